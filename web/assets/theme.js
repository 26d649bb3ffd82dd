// Dark/light theme: the system's preference until the user picks one,
// which is remembered. Without a stored choice the CSS follows
// prefers-color-scheme by itself, so there is no flash before this runs.

const KEY = 'llmobs.theme';
const darkQuery = window.matchMedia('(prefers-color-scheme: dark)');

function stored() {
  try {
    return localStorage.getItem(KEY);
  } catch {
    return null; // storage disabled: the choice lasts for this page only
  }
}

function store(theme) {
  try {
    localStorage.setItem(KEY, theme);
  } catch {
    // nothing to do: see stored()
  }
}

function current() {
  return document.documentElement.dataset.theme || (darkQuery.matches ? 'dark' : 'light');
}

export function initTheme(button) {
  const saved = stored();
  if (saved === 'dark' || saved === 'light') document.documentElement.dataset.theme = saved;
  const label = () => {
    button.title = `Switch to ${current() === 'dark' ? 'light' : 'dark'} theme`;
  };
  button.addEventListener('click', () => {
    const next = current() === 'dark' ? 'light' : 'dark';
    document.documentElement.dataset.theme = next;
    store(next);
    label();
  });
  darkQuery.addEventListener('change', label);
  label();
}
