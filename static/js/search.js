// The header's search box as an ARIA 1.2 combobox: suggestions (products, categories) from
// /search/suggest while typing; arrow keys move through them, Enter opens the one chosen (or
// searches), Escape closes the list (and clears the box when it is closed). Without
// JavaScript the form simply submits to the search page.
(function () {
  "use strict";
  var form = document.querySelector(".site-search[data-suggest-url]");
  if (!form || !window.fetch) return;
  var input = form.querySelector("input[name=q]");
  var url = form.dataset.suggestUrl;
  var list = document.createElement("div");
  var status = document.createElement("p");
  var options = [];
  var active = -1;
  var timer = null;
  var asked = "";

  list.id = "site-search-listbox";
  list.className = "site-search__list";
  list.setAttribute("role", "listbox");
  list.setAttribute("aria-label", input.placeholder);
  list.hidden = true;
  status.className = "visually-hidden";
  status.setAttribute("role", "status");
  form.classList.add("site-search--combobox");
  form.appendChild(list);
  form.appendChild(status);
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-expanded", "false");
  input.setAttribute("aria-controls", list.id);
  input.setAttribute("autocomplete", "off");

  function close() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function choose(index) {
    options.forEach(function (option, i) {
      option.setAttribute("aria-selected", i === index ? "true" : "false");
    });
    active = index;
    if (index < 0) {
      input.removeAttribute("aria-activedescendant");
    } else {
      input.setAttribute("aria-activedescendant", options[index].id);
      options[index].scrollIntoView({ block: "nearest" });
    }
  }

  function group(text) {
    var box = document.createElement("div");
    var title = document.createElement("div");
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", text);
    title.className = "site-search__heading";
    title.setAttribute("aria-hidden", "true");
    title.textContent = text;
    box.appendChild(title);
    list.appendChild(box);
    return box;
  }

  function option(parent, href, label, extra, image) {
    var item = document.createElement("div");
    item.id = "site-search-option-" + options.length;
    item.setAttribute("role", "option");
    item.setAttribute("aria-selected", "false");
    item.className = "site-search__option";
    item.dataset.href = href;
    if (image) {
      var img = document.createElement("img");
      img.src = image;
      img.alt = "";
      img.width = 40;
      img.height = 40;
      item.appendChild(img);
    }
    var name = document.createElement("span");
    name.className = "site-search__name";
    name.textContent = label;
    item.appendChild(name);
    if (extra) {
      var price = document.createElement("span");
      price.className = "site-search__price";
      price.textContent = extra;
      item.appendChild(price);
    }
    item.addEventListener("mousedown", function (event) { event.preventDefault(); });
    item.addEventListener("click", function () { window.location.href = href; });
    parent.appendChild(item);
    options.push(item);
  }

  function show(data) {
    list.textContent = "";
    options = [];
    active = -1;
    var box;
    if (data.products.length) {
      box = group(form.dataset.labelProducts);
      data.products.forEach(function (p) { option(box, p.url, p.name, p.price, p.image); });
    }
    if (data.categories.length) {
      box = group(form.dataset.labelCategories);
      data.categories.forEach(function (c) { option(box, c.url, c.name, "", null); });
    }
    if (!options.length) {
      status.textContent = "";
      close();
      return;
    }
    option(list, data.search_url, form.dataset.labelAll + " “" + input.value.trim() + "”", "", null);
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    status.textContent = options.length + " " + form.dataset.labelFound;
  }

  function ask() {
    var query = input.value.trim();
    if (query === asked) return;
    asked = query;
    if (query.length < 2) { close(); return; }
    fetch(url + "?q=" + encodeURIComponent(query), { headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (data && input.value.trim() === query) show(data);
      })
      .catch(function () { close(); });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(ask, 150);  // one request per pause in typing, not per key
  });
  input.addEventListener("keydown", function (event) {
    var open = !list.hidden;
    if (event.key === "ArrowDown") {
      event.preventDefault();
      if (!open) { asked = ""; ask(); return; }
      choose(active + 1 < options.length ? active + 1 : 0);
    } else if (event.key === "ArrowUp") {
      if (!open) return;
      event.preventDefault();
      choose(active > 0 ? active - 1 : options.length - 1);
    } else if (event.key === "Enter") {
      if (open && active >= 0) {
        event.preventDefault();
        window.location.href = options[active].dataset.href;
      }
    } else if (event.key === "Escape") {
      if (open) { event.preventDefault(); close(); } else { input.value = ""; asked = ""; }
    }
  });
  input.addEventListener("blur", close);
})();
