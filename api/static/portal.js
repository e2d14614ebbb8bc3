// Berth portal: the copy buttons (hidden until this script runs; the text stays selectable).
"use strict";
document.querySelectorAll("button[data-copy]").forEach(function (button) {
  button.hidden = false;
  button.addEventListener("click", function () {
    var said = document.querySelector(".copied");
    navigator.clipboard.writeText(button.dataset.copy).then(function () {
      button.textContent = "Copied";
      if (said) said.textContent = "Copied " + button.dataset.copy + " to the clipboard.";
      setTimeout(function () { button.textContent = "Copy"; }, 2000);
    }, function () {
      if (said) said.textContent = "The browser did not allow copying: select the text instead.";
    });
  });
});
