// Sorting, filtering and paging of the ranked users. It reads the table the report holds and
// only moves and hides its rows: it never builds markup from their text.
(function () {
  "use strict";
  var PAGE = 25;
  var table = document.getElementById("users");
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var filter = document.getElementById("filter");
  var shown = document.getElementById("shown");
  var page = 0;
  var matching = rows;
  function render() {
    var pages = Math.max(1, Math.ceil(matching.length / PAGE));
    page = Math.min(page, pages - 1);
    var visible = new Set(matching.slice(page * PAGE, (page + 1) * PAGE));
    rows.forEach(function (row) {
      row.hidden = !visible.has(row);
      body.appendChild(row);
    });
    shown.textContent = matching.length + " users, page " + (page + 1) + " of " + pages;
  }
  filter.addEventListener("input", function () {
    var needle = filter.value.toLowerCase();
    matching = rows.filter(function (row) {
      return row.cells[0].textContent.toLowerCase().indexOf(needle) >= 0;
    });
    page = 0;
    render();
  });
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header) {
    var ascending = false;
    header.addEventListener("click", function () {
      var column = Number(header.dataset.column);
      ascending = !ascending;
      var key = function (row) {
        var value = row.cells[column].textContent;
        var number = Number(value);
        return value !== "" && !isNaN(number) ? number : value;
      };
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        var order = x < y ? -1 : x > y ? 1 : Number(a.dataset.rank) - Number(b.dataset.rank);
        return ascending ? order : -order;
      });
      filter.dispatchEvent(new Event("input"));
    });
  });
  document.getElementById("previous").addEventListener("click", function () {
    page = Math.max(0, page - 1);
    render();
  });
  document.getElementById("next").addEventListener("click", function () {
    page += 1;
    render();
  });
  render();
})();
