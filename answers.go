package sessionkit

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
)

// The one home of sessionkit's HTTP answers: the Middleware, the
// ready-made handlers and the OAuth endpoints write JSON, errors and their
// log records here.

// errorAnswer is every JSON error answer: RFC 6749 §5.2 and RFC 6750 §3
// give it the same shape.
type errorAnswer struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// writeJSON writes v as a JSON answer that no cache keeps (RFC 6749 §5.1:
// Cache-Control no-store, Pragma no-cache).
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil { // only the answer structs of this package get here
		status = http.StatusInternalServerError
		body, _ = json.Marshal(errorAnswer{refuseInternal.code, refuseInternal.desc})
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// writeJSONError writes the error answer {"error": code,
// "error_description": desc}.
func writeJSONError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, errorAnswer{code, desc})
}

// noContent answers 204, uncacheable.
func noContent(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// refusalMessage is the message of every refused request's log record.
const refusalMessage = "sessionkit: request refused"

// logRefusal writes the one log record of a refused request, with the
// same keys wherever it comes from: status, reason (when there is one),
// method, path, then extra (code and description of OAuth answers,
// client_id, and error for the cause of a 5xx answer or an OAuth refusal).
// The level is the reason's (Reason.LogLevel), Info without one.
func logRefusal(ctx context.Context, log *slog.Logger, r *http.Request, status int, reason Reason, extra ...slog.Attr) {
	level := slog.LevelInfo
	if reason != "" {
		level = reason.LogLevel()
	}
	if !log.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 4+len(extra))
	attrs = append(attrs, slog.Int("status", status))
	if reason != "" {
		attrs = append(attrs, slog.String("reason", string(reason)))
	}
	attrs = append(attrs, slog.String("method", r.Method), slog.String("path", r.URL.Path))
	log.LogAttrs(ctx, level, refusalMessage, append(attrs, extra...)...)
}
