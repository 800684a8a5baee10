// "Select all" for a table of check boxes: ticks every enabled box, or clears them all.
// The control is hidden in the page; this script shows it. Without JavaScript it stays hidden
// and each box is ticked by hand.
"use strict";

document.querySelectorAll("input[data-select-all]").forEach((control) => {
  const table = document.getElementById(control.dataset.selectAll);
  if (!table) {
    return;
  }
  const boxes = () =>
    Array.from(table.querySelectorAll("tbody input[type=checkbox]:not(:disabled)"));
  const reflect = () => {
    const all = boxes();
    const ticked = all.filter((box) => box.checked).length;
    control.checked = all.length > 0 && ticked === all.length;
    control.indeterminate = ticked > 0 && ticked < all.length;
  };
  control.addEventListener("change", () => {
    boxes().forEach((box) => {
      box.checked = control.checked;
    });
    reflect();
  });
  table.addEventListener("change", (event) => {
    if (event.target !== control) {
      reflect();
    }
  });
  control.disabled = boxes().length === 0;
  control.closest("[hidden]")?.removeAttribute("hidden");
  reflect();
});
