// Tidings embed: put the live feed of a tag, or of a live event, into any page with one line.
//   <script src="https://tidings.example/embed.js" data-tag="election" async></script>
//   <script src="https://tidings.example/embed.js" data-event="election-night" async></script>
// Optional: data-height (pixels, default 600). The feed is an iframe of
// /embed/tags/{tag} or /embed/events/{slug}: no cookies, follows the host's width and the
// reader's light or dark setting.
(function () {
  var me = document.currentScript;
  if (!me || !(me.dataset.tag || me.dataset.event)) return;
  var origin = new URL(me.src).origin;
  var frame = document.createElement("iframe");
  if (me.dataset.event) {
    frame.src = origin + "/embed/events/" + encodeURIComponent(me.dataset.event);
    frame.title = "Live event";
  } else {
    var tag = me.dataset.tag.replace(/^#/, "");
    frame.src = origin + "/embed/tags/" + encodeURIComponent(tag);
    frame.title = "Live: #" + tag;
  }
  frame.loading = "lazy";
  frame.style.width = "100%";
  frame.style.border = "0";
  frame.height = String(parseInt(me.dataset.height, 10) || 600);
  me.parentNode.insertBefore(frame, me);
})();
