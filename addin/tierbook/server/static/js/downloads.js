// tierbook's download links in the task pane (issue 20, item 5): the files a ribbon
// script made for the browser (Segment workbooks) come with the run's answer as
// [{name, url, bytes, folder} ..., {name, url, bytes, zip: true}] (tierbook/downloads.py)
// and ribbon.js hands them to show(), which lists them in #tierbook-downloads of the
// task pane (templates/taskpane.html) and opens the task pane if it is closed (the
// ribbon's buttons run in the task pane's shared runtime, SharedRuntime 1.1).
//
// Each link works once and for an hour at most (the server then removes the file): a
// link clicked is marked as downloaded. Only links on the task pane's own origin are
// shown. Names are set as text, never as HTML.

const TierbookDownloads = (function () {
  function size(bytes) {
    if (typeof bytes !== "number") return "";
    if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
    return `${Math.max(1, Math.round(bytes / 1e3))} kB`;
  }

  // A link to ITEM in DOC, or null when its URL is not on the page's own origin.
  function link(doc, item) {
    let url;
    try {
      url = new URL(item.url, doc.baseURI);
    } catch (error) {
      return null;
    }
    if (url.origin !== new URL(doc.baseURI).origin) return null;
    const a = doc.createElement("a");
    a.href = url.href;
    a.setAttribute("download", item.name);
    a.textContent = item.name;
    a.addEventListener("click", (event) => {
      if (a.getAttribute("data-downloaded")) {
        event.preventDefault();
        return;
      }
      // Excel on Mac's web view saves no file from a link: there the default browser
      // fetches it (OpenBrowserWindowApi 1.1), which the server sends as an attachment.
      const office = globalThis.Office;
      if (office && office.context && office.context.ui && office.context.ui.openBrowserWindow &&
          office.PlatformType && office.context.platform === office.PlatformType.Mac) {
        event.preventDefault();
        office.context.ui.openBrowserWindow(a.href);
      }
      a.setAttribute("data-downloaded", "true");
      a.classList.add("text-decoration-line-through");
      a.title = "downloaded (each link works once)";
    });
    return a;
  }

  // Replace the content of CONTAINER (in DOC) with the links of LIST, the zip first.
  function render(list, container, doc = container.ownerDocument) {
    container.replaceChildren();
    const files = list.filter((item) => !item.zip);
    const zip = list.find((item) => item.zip);
    const heading = doc.createElement("p");
    heading.className = "mb-1";
    heading.textContent = `tierbook made ${files.length} workbook${files.length === 1 ? "" : "s"}. ` +
      "Each link works once, for an hour.";
    container.appendChild(heading);
    if (zip) {
      const a = link(doc, zip);
      if (a) {
        a.className = "btn btn-primary btn-sm mb-2";
        a.textContent = `Download all (${size(zip.bytes)})`;
        a.setAttribute("data-tierbook-zip", "true");
        container.appendChild(a);
      }
    }
    const groups = new Map();
    for (const item of files) {
      const key = item.folder || "";
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(item);
    }
    for (const [folder, items] of groups) {
      if (folder) {
        const title = doc.createElement("div");
        title.className = "small fw-bold mt-1";
        title.textContent = folder === "segment" ? "By segment" : folder === "manager" ? "By manager" : folder;
        container.appendChild(title);
      }
      const ul = doc.createElement("ul");
      ul.className = "list-unstyled small mb-1";
      for (const item of items) {
        const a = link(doc, item);
        if (!a) continue;
        const li = doc.createElement("li");
        li.appendChild(a);
        li.appendChild(doc.createTextNode(` (${size(item.bytes)})`));
        ul.appendChild(li);
      }
      container.appendChild(ul);
    }
    container.classList.remove("d-none");
  }

  // List LIST in the task pane and show the task pane.
  async function show(list) {
    const container = document.getElementById("tierbook-downloads");
    if (!container) throw new Error("tierbook: the task pane has no place for the download links");
    render(list, container);
    try {
      if (globalThis.Office && Office.addin && Office.addin.showAsTaskpane) await Office.addin.showAsTaskpane();
    } catch (error) {
      console.log(`tierbook: the task pane could not be opened: ${error}`);
    }
    container.scrollIntoView();
  }

  return { size, render, show };
})();

globalThis.TierbookDownloads = TierbookDownloads;

if (typeof module !== "undefined" && module.exports) {
  module.exports = TierbookDownloads;
}
