// Suanpan back-office: every form with data-confirm states its consequence and asks first.
document.addEventListener("submit", function (ev) {
  var form = ev.target;
  var text = form.getAttribute("data-confirm");
  if (text && !window.confirm(text)) {
    ev.preventDefault();
  }
});

// On a phone the header folds into a menu button (issue 18). Without this script the menu
// simply stays open: the `js` class is what lets the stylesheet fold it.
document.documentElement.classList.add("js");
document.addEventListener("DOMContentLoaded", function () {
  var button = document.getElementById("menu-button");
  var header = document.querySelector("header.top");
  if (!button || !header) {
    return;
  }
  button.hidden = false;
  button.addEventListener("click", function () {
    var open = header.classList.toggle("open");
    button.setAttribute("aria-expanded", open ? "true" : "false");
  });
});
