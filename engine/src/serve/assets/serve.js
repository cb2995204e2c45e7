// The live pages of `runbook serve` (docs/serve.md). A live page is a
// server-rendered part in `#live`; this script follows the event stream
// named by `data-stream` and fetches the part (`data-part`) again when the
// run (or the list) changed, so the server's fold stays the only logic.
// Output of steps in flight is appended from `output` messages as text
// (never as HTML). Commands get a copy button.
(function runbookServe() {
    'use strict';
    const root = document.documentElement;

    function copyText(text, button) {
        const done = () => {
            button.textContent = 'copied';
            button.dataset.copied = 'yes';
            setTimeout(() => { button.textContent = 'copy'; }, 1500);
        };
        const fallback = () => {
            // Plain HTTP off loopback has no clipboard API.
            const t = document.createElement('textarea');
            t.value = text;
            document.body.append(t);
            t.select();
            try { document.execCommand('copy'); } catch (e) { /* nothing more to try */ }
            t.remove();
            done();
        };
        if (navigator.clipboard && window.isSecureContext) {
            navigator.clipboard.writeText(text).then(done, fallback);
        } else {
            fallback();
        }
    }

    function copyButtons(scope) {
        scope.querySelectorAll('pre').forEach(pre => {
            if (pre.classList.contains('out') || pre.classList.contains('tail') || pre.querySelector('button.copy')) {
                return;
            }
            const b = document.createElement('button');
            b.type = 'button';
            b.className = 'copy';
            b.textContent = 'copy';
            b.addEventListener('click', () => {
                const code = pre.querySelector('code');
                copyText((code || pre).innerText.replace(/\n$/, ''), b);
            });
            pre.append(b);
        });
        scope.querySelectorAll('button[data-copy-from]').forEach(b => {
            if (b.dataset.wired) {
                return;
            }
            b.dataset.wired = 'yes';
            b.addEventListener('click', () => {
                const from = document.getElementById(b.dataset.copyFrom);
                const code = from && (from.querySelector('code') || from);
                if (code) {
                    copyText(code.textContent, b);
                }
            });
        });
    }

    const bytes = s => new TextEncoder().encode(s).length;

    const live = document.getElementById('live');
    copyButtons(document);
    if (!live || !live.dataset.stream || !window.EventSource) {
        return;
    }

    // One fetch at a time; a change meanwhile asks for one more.
    let fetching = false;
    let again = false;
    async function refresh() {
        if (fetching) {
            again = true;
            return;
        }
        fetching = true;
        try {
            const r = await fetch(live.dataset.part, { credentials: 'same-origin', cache: 'no-store' });
            if (r.ok) {
                swap(await r.text());
            }
        } catch (e) {
            // The stream reconnects on its own; the next change refreshes.
        } finally {
            fetching = false;
            if (again) {
                again = false;
                refresh();
            }
        }
    }

    function swap(html) {
        const open = [...live.querySelectorAll('details[open]')].map(d => d.className);
        const bottom = new Set([...live.querySelectorAll('pre.out')]
            .filter(p => p.scrollTop + p.clientHeight >= p.scrollHeight - 4).map(p => p.dataset.out));
        live.innerHTML = html;
        live.querySelectorAll('details').forEach(d => {
            if (open.includes(d.className)) {
                d.open = true;
            }
        });
        live.querySelectorAll('pre.out').forEach(p => {
            if (bottom.has(p.dataset.out)) {
                p.scrollTop = p.scrollHeight;
            }
        });
        copyButtons(live);
        root.dataset.refreshed = String(Number(root.dataset.refreshed || 0) + 1);
    }

    function output(m) {
        const pre = [...live.querySelectorAll('pre.out')].find(p => p.dataset.out === m.step);
        if (!pre) {
            refresh();
            return;
        }
        const code = pre.querySelector('code') || pre;
        const end = Number(pre.dataset.end || 0);
        const len = bytes(m.text);
        if (m.from === end) {
            code.append(m.text);
            pre.dataset.end = String(end + len);
        } else if (m.from + len > end) {
            code.textContent = m.text;
            pre.dataset.end = String(m.from + len);
        }
        pre.scrollTop = pre.scrollHeight;
    }

    const es = new EventSource(live.dataset.stream);
    es.onopen = () => { root.dataset.live = 'open'; };
    es.onmessage = m => {
        root.dataset.lastEventId = m.lastEventId;
        refresh();
    };
    es.addEventListener('runs', refresh);
    es.addEventListener('output', m => output(JSON.parse(m.data)));
    es.addEventListener('unreadable', m => {
        root.dataset.live = 'unreadable';
        const p = document.createElement('p');
        p.className = 'banner bad';
        p.textContent = m.data;
        live.prepend(p);
    });
    es.onerror = () => { root.dataset.live = 'reconnecting'; };
})();
