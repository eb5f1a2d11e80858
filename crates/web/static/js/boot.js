// Runs in <head>, before the page is painted, so that the header shows the links of a
// logged-in or a logged-out visitor at once, without a flash. The session cookie is
// HttpOnly: the name kept at log-in is all a page script knows; layout.js checks it
// with the API and forgets it if the session is gone.
try {
  if (localStorage.getItem('reel.user')) document.documentElement.dataset.auth = 'in';
} catch (_) {
  // Storage disabled: everyone looks logged out until they log in on this page.
}
