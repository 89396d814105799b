() => {
  // Visible links and controls under 44 x 44 px, as "tag[type] "name" WxH". Run by
  // page.evaluate in the browser tests (e2e/conftest.py) and in bench/audit.py (make audit).
  const selector = 'a[href], button, input:not([type=hidden]), select, textarea, summary';
  const small = [];
  for (const el of document.querySelectorAll(selector)) {
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    if (style.visibility === 'hidden' || box.width <= 1 || box.height <= 1 || box.bottom + scrollY <= 0)
      continue;  // not shown: clipped to 1 px, or above the page until focused (a skip link)
    let {left, top, right, bottom} = box;
    if (el.type === 'checkbox' || el.type === 'radio') {
      // The label is part of the target: a tick box is hit by its text too.
      for (const label of el.labels || []) {
        const l = label.getBoundingClientRect();
        left = Math.min(left, l.left); top = Math.min(top, l.top);
        right = Math.max(right, l.right); bottom = Math.max(bottom, l.bottom);
      }
    }
    const width = right - left, height = bottom - top;
    if (width < 43.5 || height < 43.5) {
      const name = (el.innerText || el.value || el.getAttribute('aria-label') || el.name || '')
        .trim().replace(/\s+/g, ' ').slice(0, 40);
      small.push(`${el.tagName.toLowerCase()}${el.type ? '[' + el.type + ']' : ''} "${name}" `
        + `${Math.round(width)}x${Math.round(height)}`);
    }
  }
  return small;
}
