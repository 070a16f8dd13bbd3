// Suanpan back-office: every form with data-confirm states its consequence and asks first.
document.addEventListener("submit", function (ev) {
  var form = ev.target;
  var text = form.getAttribute("data-confirm");
  if (text && !window.confirm(text)) {
    ev.preventDefault();
  }
});
