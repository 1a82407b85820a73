// Writes into #result what only a page whose stylesheet applied, whose image
// decoded and whose resources came over HTTP/3 can show, then into #fetches
// the statuses of a range request, a revalidation, a missing file and 20
// parallel requests (tests/apps/h3_static_chromium_test.sh compares both).
window.addEventListener("load", async () => {
  const probe = getComputedStyle(document.getElementById("probe"));
  const img = document.getElementById("pic");
  const nav = performance.getEntriesByType("navigation")[0];
  const res = performance.getEntriesByType("resource")
      .map((e) => new URL(e.name).pathname + "=" + e.nextHopProtocol)
      .sort()
      .join(" ");
  document.getElementById("result").textContent =
      "css=" + probe.width + "," + probe.color +
      " img=" + img.naturalWidth + "x" + img.naturalHeight +
      " nav=" + nav.nextHopProtocol + " res=" + res;

  const out = [];
  try {
    const opts = (headers) => ({cache: "no-store", headers: headers || {}});
    const full = await fetch("/style.css", opts());
    const etag = full.headers.get("etag");
    await full.text();
    const part = await fetch("/style.css", opts({"Range": "bytes=3-12"}));
    out.push("range=" + part.status + "," + (await part.text()).length + "," +
             part.headers.get("content-range"));
    const same = await fetch("/style.css", opts({"If-None-Match": etag}));
    out.push("inm=" + same.status);
    const missing = await fetch("/no-such-file", opts());
    out.push("missing=" + missing.status);
    const many = [];
    for (let i = 0; i < 20; i++)
      many.push(fetch("/app.js?n=" + i, opts({"x-n": String(i % 4)}))
                    .then(async (r) => (await r.text()).length > 0 ? r.status : 0));
    out.push("parallel=" + (await Promise.all(many)).filter((s) => s === 200).length);
  } catch (e) {
    out.push("error " + e);
  }
  document.getElementById("fetches").textContent = out.join(" ");
});
