// The env selector of runbook pages (docs/wiki.md, "Values per environment").
//
// `runbook mdbook` renders every command once per distinct value: the default
// env's is shown, the others carry `hidden`, each tagged with the envs it is
// for (`data-runbook-env="prod staging"`). This script only switches which
// ones are hidden. The choice is kept across pages (localStorage) and can be
// given in a link: `2.1-head-stall.html?env=prod`. Static: no server.
(function runbookEnvs() {
    'use strict';
    const summaries = document.querySelectorAll('.runbook-summary[data-runbook-envs]');
    // The print page holds every runbook: each keeps its default env.
    if (summaries.length !== 1) {
        return;
    }
    const summary = summaries[0];
    const KEY = 'runbook-env';
    const envs = summary.dataset.runbookEnvs.split(' ');
    const fallback = summary.dataset.runbookDefault;
    const select = summary.querySelector('select.runbook-env-select');

    function wanted() {
        const fromUrl = new URLSearchParams(window.location.search).get('env');
        let stored = null;
        try {
            stored = localStorage.getItem(KEY);
        } catch (e) {
            // Storage can be off (privacy settings, file:// in some browsers).
        }
        return [fromUrl, stored].find(e => e && envs.includes(e)) || fallback;
    }

    function apply(env) {
        document.querySelectorAll('[data-runbook-env]').forEach(el => {
            el.hidden = !el.dataset.runbookEnv.split(' ').includes(env);
        });
        if (select) {
            select.value = env;
        }
        // Tests and styles can see which env the page shows.
        document.documentElement.dataset.runbookShown = env;
    }

    if (select) {
        select.hidden = false;
        summary.querySelectorAll('.runbook-env-static').forEach(el => {
            el.hidden = true;
        });
        select.addEventListener('change', () => {
            try {
                localStorage.setItem(KEY, select.value);
            } catch (e) {
                // The page still switches; the choice is not remembered.
            }
            apply(select.value);
        });
    }
    apply(wanted());
})();
