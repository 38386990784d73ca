(function(){
  var rows = Array.prototype.slice.call(document.querySelectorAll('tr.student-row'));
  var body = document.querySelector('table.grades tbody');
  var box = document.getElementById('filter');
  var count = document.getElementById('count');
  var onlyReview = document.getElementById('only-review');
  function applyFilter(){
    var q = box.value.trim().toLowerCase(); var shown = 0;
    rows.forEach(function(r){
      var hit = !q || r.getAttribute('data-student').toLowerCase().indexOf(q) !== -1 ||
        r.getAttribute('data-failing').toLowerCase().split(' ').some(function(id){ return id && id.indexOf(q) !== -1; }) ||
        r.getAttribute('data-review').toLowerCase().split(' ').some(function(id){ return id && id.indexOf(q) !== -1; });
      if (onlyReview.checked && !r.getAttribute('data-review')) hit = false;
      r.hidden = !hit; if (hit) shown++;
    });
    count.textContent = shown + ' of ' + rows.length + ' students';
  }
  var dir = {score: -1, name: -1};  // first click: best score first, names A-Z
  function sortBy(key){
    dir[key] = -dir[key];
    rows.sort(function(a, b){
      var d;
      if (key === 'score') { d = parseFloat(a.getAttribute('data-frac')) - parseFloat(b.getAttribute('data-frac'));
        if (!d) d = parseFloat(a.getAttribute('data-score')) - parseFloat(b.getAttribute('data-score')); }
      else d = a.getAttribute('data-student') < b.getAttribute('data-student') ? -1 : 1;
      if (!d) d = a.getAttribute('data-student') < b.getAttribute('data-student') ? -1 : 1;
      return key === 'score' ? -dir[key] * d : dir[key] * d;
    });
    rows.forEach(function(r){ body.appendChild(r); });
    document.getElementById('sort-' + key).setAttribute('data-dir', dir[key] > 0 ? 'asc' : 'desc');
  }
  function openDetail(id){
    Array.prototype.forEach.call(document.querySelectorAll('.detail.open'), function(d){ d.classList.remove('open'); });
    var d = document.getElementById(id);
    if (d) { d.classList.add('open'); d.scrollIntoView(); }
  }
  rows.forEach(function(r){
    r.addEventListener('click', function(ev){
      var id = r.getAttribute('data-detail');
      if (ev.target.tagName !== 'A') { ev.preventDefault(); history.replaceState(null, '', '#' + id); }
      openDetail(id);
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll('.close'), function(b){
    b.addEventListener('click', function(){ b.parentNode.classList.remove('open'); history.replaceState(null, '', '#'); });
  });
  box.addEventListener('input', applyFilter);
  onlyReview.addEventListener('change', applyFilter);
  document.getElementById('sort-score').addEventListener('click', function(){ sortBy('score'); });
  document.getElementById('sort-name').addEventListener('click', function(){ sortBy('name'); });
  applyFilter();
})();
