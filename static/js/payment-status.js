// A page that waits for a payment (WeChat Pay's QR code) asks the shop every few seconds
// whether the order is paid and moves on as soon as it is no longer waiting. Without
// JavaScript the page's "I have paid — check" link reloads it, which does the same.
const waiting = document.querySelector("[data-payment-status]");

if (waiting) {
  const url = waiting.dataset.paymentStatus;
  const every = Number(waiting.dataset.pollMs) || 2000;
  const until = Date.now() + (Number(waiting.dataset.pollForMs) || 1800000);

  const check = async () => {
    try {
      const response = await fetch(url, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        cache: "no-store",
      });
      if (response.ok) {
        const status = await response.json();
        if (status.outcome !== "pending" && status.next) {
          window.location.assign(status.next);
          return;
        }
      }
    } catch (error) {
      // Offline for a moment: ask again at the next tick.
    }
    if (Date.now() < until) {
      window.setTimeout(check, every);
    }
  };
  window.setTimeout(check, every);
}
