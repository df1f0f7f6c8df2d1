// Posts the renewal form at once: a same-origin post, so the browser sends
// the SameSite=Strict refresh cookie even when the user came from a link on
// another site.
document.getElementById('renew').submit();
