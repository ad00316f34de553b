// Tidings embed: put the live feed of a tag into any page with one line.
//   <script src="https://tidings.example/embed.js" data-tag="election" async></script>
// Optional: data-height (pixels, default 600). The feed is an iframe of
// /embed/tags/{tag}: no cookies, follows the host's width and the reader's light or dark
// setting.
(function () {
  var me = document.currentScript;
  if (!me || !me.dataset.tag) return;
  var origin = new URL(me.src).origin;
  var tag = me.dataset.tag.replace(/^#/, "");
  var frame = document.createElement("iframe");
  frame.src = origin + "/embed/tags/" + encodeURIComponent(tag);
  frame.title = "Live: #" + tag;
  frame.loading = "lazy";
  frame.style.width = "100%";
  frame.style.border = "0";
  frame.height = String(parseInt(me.dataset.height, 10) || 600);
  me.parentNode.insertBefore(frame, me);
})();
