// Copy buttons: <button data-copy="ID" data-copy-status="ID" hidden> copies the text of the
// element named by data-copy and says so in the element named by data-copy-status. The button
// stays hidden without JavaScript or the Clipboard API; the text stays selectable either way.
"use strict";

for (const button of document.querySelectorAll("button[data-copy]")) {
  const source = document.getElementById(button.dataset.copy);
  const status = document.getElementById(button.dataset.copyStatus);
  if (!source || !status || !navigator.clipboard) continue;
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(source.textContent.trim());
      status.textContent = "Copied";
    } catch {
      status.textContent = "Could not copy: select the text and copy it yourself.";
    }
  });
}
