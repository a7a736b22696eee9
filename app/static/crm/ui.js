/* Page-wide set-up (crm/base.html): the date picker and select2 in the page's
   language, and select2 boxes that screen readers can name.

   Runs after select2 and the date picker load and before ab.js sets them up on
   DOM ready. The texts come from the JSON block #crm-ui-texts. Select2 takes
   its placeholder from the <select>'s data-placeholder, which wins over the
   English one FAB's scripts pass; FAB's Select2Widget sets it (Select Value). */
(function ($) {
  "use strict";
  var source = document.getElementById("crm-ui-texts");
  if (!$ || !source) { return; }
  var texts = JSON.parse(source.textContent);

  if ($.fn.datepicker) {
    $.fn.datepicker.dates.crm = texts.datepicker;
    $.fn.datepicker.defaults.language = "crm";
    $.fn.datepicker.defaults.autoclose = true;
  }
  /* FAB's filter widget calls a date-time picker plugin it never loads. */
  if ($.fn.datepicker && !$.fn.datetimepicker) {
    $.fn.datetimepicker = function () {
      return this.datepicker({format: "yyyy-mm-dd"});
    };
  }
  if (!$.fn.select2) { return; }

  var language = {};
  $.each(texts.select2, function (key, text) {
    language[key] = function () { return text; };
  });
  $.fn.select2.defaults.set("language", language);

  /* Select2 4.0 puts the "clear all" cross of a multiple select inside its <ul> as a
     <span>, which breaks the list for screen readers, and it is mouse-only anyway:
     each chosen item keeps its own cross. The select's data-* settings win over
     the options FAB's ab.js passes, and this runs before ab.js sets them up. */
  $("select[multiple]").attr("data-allow-clear", "false");

  /* The name of a <select>: its <label for>, else its own aria-label, else the
     column name of its row in FAB's search form (which has no <label>s). */
  var labelCount = 0;
  function labelOf(select) {
    var label = select.id ? document.querySelector("label[for='" + select.id + "']") : null;
    if (label) {
      if (!label.id) { label.id = "crm-label-" + (++labelCount); }
      return {id: label.id, text: $.trim($(label).text())};
    }
    var $remove = $(select).closest("tr").find("a.remove-filter").first().clone();
    $remove.find(".close-icon").remove();
    var text = select.getAttribute("aria-label") || $.trim($remove.text());
    return text ? {text: text} : null;
  }

  /* Select2 draws a combobox whose inner text box (single) or search field
     (multiple) has no name of its own; give them the field's label. */
  function nameBox(select) {
    var $box = $(select).next(".select2-container");
    var label = labelOf(select);
    if (!$box.length || !label) { return; }
    var $combo = $box.find(".select2-selection");
    var $rendered = $box.find(".select2-selection__rendered");
    if (label.id) {
      $combo.attr("aria-labelledby", label.id);
      $rendered.attr("aria-labelledby", label.id);
    } else {
      $combo.attr("aria-label", label.text);
      $rendered.attr("aria-label", label.text);
    }
    $box.find(".select2-search__field").attr("aria-label", label.text);
  }

  function nameBoxesWithin(root) {
    $(root).find("select.select2-hidden-accessible").addBack("select.select2-hidden-accessible")
      .each(function () { nameBox(this); });
  }

  /* Select2 4.0.13 with jQuery 3.6 leaves the focus on the closed box when it opens,
     so a keyboard user cannot type a search: move it into the search field. */
  $(document).on("select2:open", function () {
    var search = document.querySelector(".select2-container--open .select2-search__field");
    if (search) { search.focus(); }
  });

  $(function () {
    /* After the other DOM-ready handlers (ab.js, related_select.js) drew the boxes. */
    window.setTimeout(function () { nameBoxesWithin(document.body); }, 0);
    new MutationObserver(function (mutations) {
      mutations.forEach(function (mutation) {
        $(mutation.addedNodes).filter(".select2-container").each(function () {
          var select = $(this).prev("select")[0];
          if (select) { nameBox(select); }
        });
      });
    }).observe(document.body, {childList: true, subtree: true});
  });
})(window.jQuery);
