// Genealogy graph page, progressive enhancement only: without this script every group and
// collapse link simply loads the page again with its expansions. With it, the figure and the
// table are swapped in place (the page keeps its place and history still works), and a button
// fits a wide figure into the width of the screen.
(function () {
  "use strict";
  if (!window.fetch || !window.DOMParser || !history.pushState) return;

  function view() { return document.getElementById("graph-view"); }

  function addFitButton() {
    var box = document.querySelector("#graph-view .graph-scroll");
    if (!box || box.previousElementSibling && box.previousElementSibling.className === "graph-tools") return;
    var bar = document.createElement("div");
    bar.className = "graph-tools";
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = "Fit to width";
    var fit = sessionStorage.getItem("threadline-graph-fit") === "1";
    function apply() {
      box.classList.toggle("fit", fit);
      button.setAttribute("aria-pressed", fit ? "true" : "false");
    }
    button.addEventListener("click", function () {
      fit = !fit;
      sessionStorage.setItem("threadline-graph-fit", fit ? "1" : "0");
      apply();
    });
    apply();
    bar.appendChild(button);
    box.parentNode.insertBefore(bar, box);
  }

  function load(url, push) {
    var current = view();
    if (!current) { window.location.href = url; return; }
    var box = current.querySelector(".graph-scroll");
    var scroll = box ? [box.scrollLeft, box.scrollTop] : [0, 0];
    current.setAttribute("aria-busy", "true");
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (answer) {
        if (!answer.ok) throw new Error("status " + answer.status);
        return answer.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("graph-view");
        if (!fresh) throw new Error("no graph in the answer");
        current.replaceWith(document.importNode(fresh, true));
        if (push) history.pushState({ graph: true }, "", url);
        addFitButton();
        var box2 = document.querySelector("#graph-view .graph-scroll");
        if (box2) { box2.scrollLeft = scroll[0]; box2.scrollTop = scroll[1]; }
        var heading = document.getElementById("figure-heading");
        if (heading) heading.focus({ preventScroll: true });
      })
      .catch(function () { window.location.href = url; });
  }

  document.addEventListener("click", function (event) {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey ||
        event.shiftKey || event.altKey) return;
    var link = event.target.closest && event.target.closest("a[data-expand], a[data-graph-link]");
    if (!link) return;
    var href = link.getAttribute("href");
    if (!href) return;
    event.preventDefault();
    load(href, true);
  });

  // A figure traced backward has its root at the far right: start the scroll box there.
  function showRoot() {
    var box = document.querySelector("#graph-view .graph-scroll");
    var root = box && box.querySelector(".tlg-root[id]");
    if (!root || box.classList.contains("fit")) return;
    var at = root.getBoundingClientRect();
    var frame = box.getBoundingClientRect();
    box.scrollLeft += at.left - frame.left - Math.max(0, (frame.width - at.width) / 2);
    // Only scroll down when the root is out of sight: the legend sits above it.
    if (at.bottom > frame.bottom) box.scrollTop += at.top - frame.top - 16;
  }

  window.addEventListener("popstate", function () { load(window.location.href, false); });
  addFitButton();
  showRoot();
})();
