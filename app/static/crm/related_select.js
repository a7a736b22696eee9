/* Related-record drop-downs that search on the server as the user types
   (app/views/ajax_select.py). Each <select class="crm-related-select"> holds
   only the chosen record; select2 asks data-url for 20 matches at a time.
   Loaded once however many fields include it; also sets up the fields FAB's
   filter script inserts later. */
(function ($) {
  if (!$ || window.crmRelatedSelect) { return; }
  window.crmRelatedSelect = true;

  function setUp(select) {
    var $select = $(select);
    if ($select.data("select2") || !$.fn.select2) { return; }
    $select.select2({
      theme: "bootstrap",
      width: "100%",
      allowClear: true,
      placeholder: $select.data("placeholder") || "",
      ajax: {
        url: $select.data("url"),
        dataType: "json",
        delay: 250,
        data: function (params) {
          var query = {q: params.term || "", page: params.page || 1};
          var depends = $select.data("depends");
          if (depends) {
            var value = $select.closest("form").find("[name='" + depends + "']").val();
            if (value) { query[depends] = value; }
          }
          return query;
        }
      }
    });
  }

  function setUpWithin(root) {
    $(root).find("select.crm-related-select").addBack("select.crm-related-select").each(
      function () { setUp(this); }
    );
  }

  $(function () {
    setUpWithin(document.body);
    new MutationObserver(function (mutations) {
      mutations.forEach(function (mutation) {
        mutation.addedNodes.forEach(function (node) {
          if (node.nodeType === 1) { setUpWithin(node); }
        });
      });
    }).observe(document.body, {childList: true, subtree: true});
  });
})(window.jQuery);
