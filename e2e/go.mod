module github.com/sessionkit/sessionkit/e2e

go 1.25.0

require (
	github.com/chromedp/cdproto v0.159.0
	github.com/chromedp/chromedp v0.23.0
	github.com/sessionkit/sessionkit v0.0.0
	golang.org/x/crypto v0.54.0
)

require github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect

replace github.com/sessionkit/sessionkit => ../
