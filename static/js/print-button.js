// The packing slip's "Print" button: shown only where JavaScript can print; without it the
// page says to use the browser's Print command.
document.querySelectorAll(".slip__print").forEach((button) => {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
});
