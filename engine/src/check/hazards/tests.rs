//! What the table says of whole blocks, as `import` and `check` see them:
//! a wrapper is judged by what it runs, each writing form of a tool that
//! otherwise reads is a write, and what is not known stays unknown.

use proptest::prelude::*;

use super::*;
use crate::check::bash::prepare;

/// A block's verdict, as `import` decides it: a write anywhere, else
/// anything unknown, else read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Read,
    Unknown,
    Write,
}
use Kind::*;

fn kind(body: &str) -> Kind {
    calls(&prepare(body))
        .iter()
        .map(|c| match effect(c) {
            Effect::Read => Read,
            Effect::Unknown(_) => Unknown,
            Effect::Write(_) => Write,
        })
        .max()
        .unwrap_or(Read)
}

/// The hazards of a block, as `check` reports them.
fn codes(body: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = calls(&prepare(body)).iter().flat_map(hazards).map(|r| r.hazard.code()).collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn assert_kinds(cases: &[(&str, Kind)]) {
    let wrong: Vec<String> = cases
        .iter()
        .filter(|(body, want)| kind(body) != *want)
        .map(|(body, want)| format!("{body:?}: {:?}, want {want:?}", kind(body)))
        .collect();
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

#[test]
fn ssh_is_judged_by_its_remote_command() {
    assert_kinds(&[
        ("ssh <node> \"sudo docker image prune -af\"", Write),
        ("ssh n1 sudo journalctl --vacuum-size=500M", Write),
        ("ssh n1 sudo rm -rf /tmp/x", Write),
        ("ssh n1 reboot", Write),
        ("ssh n1 \"kubectl delete pod x\"", Write),
        ("ssh n1 'cd /srv && rm -rf cache'", Write),
        ("ssh n1 'echo $(rm -rf /tmp/x)'", Write),
        ("ssh -t ops@n1 -p 2222 'sudo systemctl restart kubelet'", Write),
        ("ssh bastion ssh n1 reboot", Write),
        // Options that take a value are never the host nor the command.
        ("ssh -i ~/.ssh/reboot -p 22 -o BatchMode=yes -l rm -J jump n1 uptime", Read),
        ("ssh -F cfg n1 df -h /var/lib/docker", Read),
        ("ssh n1 'journalctl -u kubelet -n 200 --no-pager'", Read),
        ("ssh n1 docker ps", Read),
        // No command: a shell, or whatever stdin says.
        ("ssh n1", Unknown),
        ("ssh -p 22 n1 < fix.sh", Unknown),
        ("ssh -s n1 sftp", Unknown),
        // A tunnel runs nothing there.
        ("ssh -N -L 8080:localhost:80 n1", Read),
    ]);
    assert_eq!(codes("ssh n1 sudo journalctl --vacuum-size=500M"), ["sudo-prompt", "write-in-read"]);
    assert_eq!(codes("ssh n1 reboot"), ["write-in-read"]);
    assert_eq!(codes("ssh n1"), ["needs-terminal"]);
    assert_eq!(codes("ssh n1 journalctl -f"), ["never-ending"]);
    assert_eq!(codes("ssh -N -L 8080:localhost:80 n1"), ["never-ending"]);
    assert_eq!(codes("ssh -fN -L 8080:localhost:80 n1"), Vec::<&str>::new());
    assert_eq!(codes("ssh n1 top"), ["needs-terminal"]);
}

#[test]
fn journalctl_reads_but_for_its_maintenance_options() {
    let writes = [
        "--vacuum-size=500M",
        "--vacuum-time 2d",
        "--vacuum-files=3",
        "--rotate",
        "--flush",
        "--sync",
        "--relinquish-var",
        "--smart-relinquish-var",
        "--setup-keys",
        "--update-catalog",
        "--vac=1G",
    ];
    for w in writes {
        assert_eq!(kind(&format!("journalctl {w}")), Write, "{w}");
        assert_eq!(
            effect(&calls(&format!("journalctl {w}"))[0]),
            Effect::Write("journalctl --vacuum-*/--rotate/--flush/…")
        );
    }
    assert_kinds(&[
        ("journalctl -u kubelet --since '1 hour ago' -n 200 --no-pager", Read),
        ("journalctl --disk-usage", Read),
        ("journalctl -b -1 -p err -o json", Read),
        ("journalctl --verify", Read),
    ]);
}

#[test]
fn watch_runs_a_shell_command() {
    assert_kinds(&[
        ("watch -n 5 \"ssh <node> df -h /var/lib/docker\"", Read),
        ("watch -d kubectl get pods", Read),
        ("watch -n5 -x kubectl get pods", Read),
        ("watch -n 5 'kubectl get pods | grep -c Running'", Read),
        ("watch -n 5 kubectl delete pod x", Write),
        ("watch 'ssh n1 sudo reboot'", Write),
        ("watch -n 5", Unknown),
    ]);
    assert_eq!(codes("watch -n 5 \"ssh <node> df -h /var/lib/docker\""), ["never-ending"]);
}

#[test]
fn a_wrapper_is_never_read_on_its_own() {
    assert_kinds(&[
        ("timeout 5 kubectl delete pod x", Write),
        ("timeout -s KILL 5m rm -rf /tmp/x", Write),
        ("env -i PATH=/bin kubectl delete pod x", Write),
        ("env -u HOME -S 'rm -rf /tmp/x'", Write),
        ("nice -n 10 rm x", Write),
        ("nohup rm x &", Write),
        ("stdbuf -oL rm x", Write),
        ("ionice -c3 rm x", Write),
        ("chrt 10 rm x", Write),
        ("xargs -n1 kubectl delete pod", Write),
        ("xargs -I{} sh -c 'rm {}'", Write),
        ("bash -lc 'kubectl delete pod x'", Write),
        ("bash -euo pipefail -c 'rm x'", Write),
        ("sudo -u postgres psql -c 'DROP TABLE x'", Write),
        ("sudo -e /etc/hosts", Write),
        ("sudoedit /etc/hosts", Write),
        ("kubectl exec web-0 -- rm -rf /data", Write),
        ("docker exec -u root web rm -rf /data", Write),
        ("docker compose exec -T web rm -rf /data", Write),
        ("docker container exec web rm -rf /data", Write),
        ("find /var/log -name '*.gz' -exec rm {} \\;", Write),
        ("find . -execdir rm {} +", Write),
        // Nothing to run: the wrapper's own work.
        ("timeout 5", Unknown),
        ("sudo -i", Unknown),
        ("sudo -s", Unknown),
        ("sudo", Unknown),
        ("nice", Unknown),
        ("ionice -p 1234", Unknown),
        ("bash script.sh", Unknown),
        ("bash", Unknown),
        ("sudo sudo sudo sudo sudo sudo sudo sudo sudo sudo sudo ls", Unknown),
        ("sudo -l", Read),
        ("sudo -v", Read),
        ("env", Read),
        ("xargs", Read),
        ("command -v kubectl", Read),
        ("timeout 60 kubectl get pods", Read),
        ("env -i kubectl get pods", Read),
        ("xargs -I{} kubectl get pod {}", Read),
        ("find . -name '*.log' -exec grep -l ERROR {} +", Read),
        ("bash -c 'kubectl get pods | head'", Read),
        ("docker exec web cat /etc/hosts", Unknown),
    ]);
    assert_eq!(codes("sudo -i"), ["needs-terminal", "sudo-prompt"]);
    assert_eq!(codes("sudoedit /etc/hosts"), ["needs-terminal", "sudo-prompt", "write-in-read"]);
}

#[test]
fn text_tools_and_probes_write_in_these_forms() {
    assert_kinds(&[
        ("echo 1 > /proc/sys/vm/drop_caches", Write),
        ("kubectl get pods -o yaml > /tmp/pods.yaml", Write),
        ("kubectl logs web >> \"$log\"", Write),
        ("> /var/log/big.log", Write),
        ("sudo sh -c 'echo x > /etc/motd'", Write),
        ("echo 1 | sudo tee /proc/sys/vm/drop_caches", Write),
        ("kubectl get pods | tee -a /tmp/pods.txt", Write),
        ("find /tmp -mtime +7 -delete", Write),
        ("find / -name core -fprint /tmp/cores", Write),
        ("sed -i.bak 's/a/b/' f", Write),
        ("sed -ni 's/a/b/p' f", Write),
        ("sed --in-place 's/a/b/' f", Write),
        ("dmesg -c", Write),
        ("dmesg -C", Write),
        ("dmesg --console-off", Write),
        ("dmesg -n 1", Write),
        ("date -s '2024-01-01 00:00'", Write),
        ("date 0101000024", Write),
        ("hostname web1", Write),
        ("hostname -F /etc/hostname", Write),
        ("ss -K dst 10.0.0.1", Write),
        ("sort -o /etc/hosts /etc/hosts", Write),
        ("uniq in.txt out.txt", Write),
        ("awk '{ system(\"rm -rf \" $1) }' f", Write),
        ("awk '{ print | \"sh\" }' f", Write),
        ("awk '\"date\" | getline d' f", Write),
        ("awk '{ print $1 > \"/tmp/x\" }' f", Write),
        ("awk '{ printf(\"%s\\n\", $1) >> out }' f", Write),
        ("gawk -i inplace '{ sub(/a/, \"b\") } 1' f", Write),
        ("sed -f fix.sed f", Unknown),
        ("awk -f prog.awk f", Unknown),
        // And read in these.
        ("kubectl get pods > /dev/null 2>&1", Read),
        ("kubectl get pods 2>/dev/null >&2", Read),
        ("kubectl get pods | tee /dev/stderr", Read),
        ("tee", Read),
        ("sed -n 's/a/b/p' f", Read),
        ("sed -e 's/i/x/' f", Read),
        ("dmesg -T --level err", Read),
        ("date +%s", Read),
        ("date -u -d @0 +%F", Read),
        ("date --iso-8601=seconds", Read),
        ("hostname -f", Read),
        ("ss -tlnp", Read),
        ("sort -k2 -n f | uniq -c", Read),
        ("awk '{ print $1 > \"/dev/stderr\" }' f", Read),
        ("awk '$3 != \"Running\" || $4 + 0 > 0 { print; n++ } END { print n + 0 }'", Read),
        ("awk '/a|b/ { print $1 }' f", Read),
        ("awk -v x=1 -F: '{ print $x }' /etc/passwd", Read),
        ("top -b -n 1", Read),
        ("find . -name '*.yaml' -newer x", Read),
    ]);
}

#[test]
fn http_clients_write_with_a_method_a_body_or_a_file() {
    assert_kinds(&[
        ("curl -sSd '{}' http://x/y", Write),
        ("curl -sXPOST http://x/y", Write),
        ("curl -fsS -X DELETE http://x/y", Write),
        ("curl --request=PUT http://x/y", Write),
        ("curl -F file=@a http://x/y", Write),
        ("curl -G -F a=b http://x/y", Write),
        ("curl -T f http://x/y", Write),
        ("curl --json '{}' http://x/y", Write),
        ("curl --data-raw x http://x/y", Write),
        ("curl -Q 'DELE f' ftp://x/", Write),
        ("curl -o /tmp/x http://x/y", Write),
        ("curl -O http://x/y", Write),
        ("curl -K cfg", Unknown),
        ("wget http://x/y", Write),
        ("wget -O out http://x/y", Write),
        ("wget --post-data=x http://x/y", Write),
        ("http DELETE api.example.com/x", Write),
        ("http POST api.example.com/x a=1", Write),
        ("http api.example.com/x a=1", Write),
        ("http api.example.com/x a:=1", Write),
        ("http -f api.example.com/x a@f", Write),
        ("curl -fsS http://x/healthz | jq .", Read),
        ("curl -sS -o /dev/null -m 10 -w '%{http_code}' http://x/", Read),
        ("curl -G -d q=1 --data-urlencode 'r=a b' http://x/api", Read),
        ("curl -sD - -XGET -I http://x/", Read),
        ("wget -qO- http://x/y", Read),
        ("wget -O /dev/null http://x/y", Read),
        ("wget --spider http://x/y", Read),
        ("http api.example.com/x Authorization:Bearer q==1", Read),
        ("http GET api.example.com/x", Read),
    ]);
}

#[test]
fn database_and_socket_clients_read_only_what_they_are_given() {
    assert_kinds(&[
        ("redis-cli -h h LPOP q", Write),
        ("redis-cli DEBUG SLEEP 0", Write),
        ("redis-cli CONFIG SET maxmemory 1gb", Write),
        ("redis-cli ACL LOG RESET", Write),
        ("redis-cli client kill id 1", Write),
        ("redis-cli --cluster fix h:6379", Write),
        ("redis-cli --rdb /tmp/dump.rdb", Write),
        ("redis-cli", Unknown),
        ("echo FLUSHALL | redis-cli -h h", Unknown),
        ("redis-cli --pipe < data.txt", Unknown),
        ("redis-cli -h h -p 6380 -a pw INFO replication", Read),
        ("redis-cli --scan --pattern 'user:*' --count 100", Read),
        ("redis-cli CONFIG GET maxmemory", Read),
        ("redis-cli --cluster check h:6379", Read),
        ("redis-cli --bigkeys", Read),
        ("redis-cli -n 2 HGETALL k", Read),
        ("psql -c \"select pg_terminate_backend(123)\"", Write),
        ("psql -c \"copy t to '/tmp/x'\"", Write),
        ("psql -c 'select 1' -c 'vacuum'", Write),
        ("psql -c 'select nextval($$s$$)'", Write),
        ("psql -c '\\! rm -rf /tmp/x'", Write),
        ("psql -c '\\copy t from f.csv'", Write),
        ("psql -c 'select * into t2 from t'", Write),
        ("psql -c 'select 1' -o /tmp/out", Write),
        ("psql -f migrate.sql", Unknown),
        ("psql -h db -U app", Unknown),
        ("psql < fix.sql", Unknown),
        ("psql -c 'select count(*) from t'", Read),
        ("psql -c \"select * from t where note = 'delete me'\"", Read),
        ("psql -c '\\dt+'", Read),
        ("psql -c 'explain analyze select 1'", Read),
        ("psql -c '-- drop it? no\nselect 1 /* delete */'", Read),
        ("psql -c 'select 1 -- fine\n; delete from t'", Write),
        ("psql -l", Read),
        ("mysql -e 'set global read_only = 1'", Write),
        ("mysql -e 'source /tmp/x.sql'", Write),
        ("mysql -e 'kill 12'", Write),
        ("mysql -e '\\! rm x'", Write),
        ("mysql db", Unknown),
        ("mysql -e 'show slave status\\G'", Read),
        ("mysql -e 'show global status'", Read),
        ("nc -zv db 5432", Read),
        ("echo FLUSHALL | nc redis 6379", Unknown),
        ("openssl s_client -connect h:443 -servername h", Read),
        ("openssl x509 -in c.pem -noout -text", Read),
        ("openssl x509 -in c.pem -out d.pem", Write),
        ("openssl genrsa -out k.pem 2048", Write),
        ("openssl req -new -key k.pem", Unknown),
    ]);
}

#[test]
fn cloud_clis_read_by_their_verb() {
    assert_kinds(&[
        ("aws ssm send-command --document-name AWS-RunShellScript --targets Key=x,Values=y", Write),
        ("aws route53 change-resource-record-sets --hosted-zone-id Z", Write),
        ("aws lambda invoke --function-name get-stats out.json", Write),
        ("aws kms schedule-key-deletion --key-id k", Write),
        ("aws ecs execute-command --cluster c --task t --command sh", Write),
        ("gcloud compute ssh vm --command 'sudo reboot'", Write),
        ("gcloud container clusters get-credentials prod", Write),
        ("az aks get-credentials -g rg -n prod", Write),
        ("doctl compute droplet-action power-off 1", Write),
        ("gcloud app browse", Unknown),
        ("aws --version", Unknown),
        ("aws ec2 describe-instances --filters Name=tag:env,Values=prod", Read),
        ("aws --region us-east-1 s3 ls s3://bucket", Read),
        ("aws sts get-caller-identity", Read),
        ("aws dynamodb batch-get-item --request-items file://x.json", Read),
        ("aws logs tail /aws/lambda/f --since 1h", Read),
        ("gcloud compute instances list --format json", Read),
        ("gcloud logging read 'severity>=ERROR' --limit 10", Read),
        ("gcloud version", Read),
        ("az vm list -o table", Read),
        ("doctl compute droplet list", Read),
    ]);
}

#[test]
fn diagnosis_tools_write_with_these_subcommands() {
    assert_kinds(&[
        ("docker container run --rm busybox", Write),
        ("docker network connect n c", Write),
        ("docker context use prod", Write),
        ("docker save -o img.tar img", Write),
        ("docker compose unpause", Write),
        ("docker image prune -af", Write),
        ("docker compose exec web sh", Unknown),
        ("docker image ls", Read),
        ("docker container ls -a", Read),
        ("docker system df", Read),
        ("docker container logs --tail 50 web", Read),
        ("docker compose logs --tail 50", Read),
        ("git branch -D x", Write),
        ("git branch hotfix", Write),
        ("git remote add o https://x", Write),
        ("git branch -a", Read),
        ("git branch --contains abc123", Read),
        ("git remote -v", Read),
        ("kubectl auth reconcile -f rbac.yaml", Write),
        ("kubectl config rename-context a b", Write),
        ("kubectl auth can-i get pods", Read),
        ("helm repo add x https://x", Write),
        ("helm plugin install https://x", Write),
        ("helm repo list", Read),
        ("etcdctl member remove 8e9e05c52164694d", Write),
        ("etcdctl alarm disarm", Write),
        ("etcdctl member list", Read),
        ("etcdctl alarm list", Read),
        ("promtool tsdb create-blocks-from openmetrics f d", Write),
        ("promtool push metrics http://pushgateway", Write),
        ("promtool check rules r.yml", Read),
        ("logcli query '{app=\"x\"}'", Read),
        ("systemctl set-property x CPUQuota=1%", Write),
        ("sysctl -w vm.swappiness=10", Write),
        ("sysctl vm.swappiness=10", Write),
        ("cp a /etc/b", Write),
        ("mount /dev/sdb1 /mnt", Write),
    ]);
}

/// A command of tools, subcommands and arguments the table knows, shell-quoted.
fn command() -> impl Strategy<Value = String> {
    const PROGRAMS: &[&str] = &[
        "kubectl",
        "docker",
        "redis-cli",
        "journalctl",
        "curl",
        "wget",
        "rm",
        "sed",
        "find",
        "psql",
        "mysql",
        "aws",
        "gcloud",
        "git",
        "ls",
        "cat",
        "tee",
        "date",
        "hostname",
        "dmesg",
        "awk",
        "systemctl",
        "helm",
        "echo",
        "nc",
        "openssl",
        "http",
        "etcdctl",
        "sudo",
        "timeout",
        "env",
        "watch",
        "ssh",
        "xargs",
        "python3",
        "top",
        "ss",
        "sort",
        "bash",
    ];
    const WORDS: &[&str] = &[
        "get",
        "delete",
        "pods",
        "logs",
        "-f",
        "-n",
        "x",
        "--vacuum-size=1G",
        "--rotate",
        "-i",
        "-u",
        "FLUSHALL",
        "INFO",
        "GET",
        "-X",
        "POST",
        "-d",
        "/tmp/x",
        "describe-instances",
        "send-command",
        "-c",
        "select 1",
        "drop table t",
        "-e",
        "s/a/b/",
        "image",
        "prune",
        "-af",
        "ps",
        "status",
        "restart",
        "-s",
        "web1",
        "+%s",
        "-C",
        "-o",
        "/dev/null",
        "{print}",
        "-delete",
        "-z",
        "-O",
        "-",
        "n1",
        "-p",
        "22",
        "branch",
        "-D",
        "--dry-run=client",
        "ls",
        "5",
    ];
    (prop::sample::select(PROGRAMS), prop::collection::vec(prop::sample::select(WORDS), 0..5))
        .prop_map(|(p, args)| std::iter::once(p).chain(args).map(quote).collect::<Vec<_>>().join(" "))
}

/// One shell word, single-quoted when it needs to be.
fn quote(w: &str) -> String {
    if w.chars().all(|c| c.is_ascii_alphanumeric() || "-_/.=+%:@".contains(c)) {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', "'\\''"))
    }
}

/// Wrappers that run the command as it is.
const SAME: &[&str] = &[
    "ssh n1 {q}",
    "ssh -p 2222 -i ~/.ssh/k -o BatchMode=yes ops@n1 {q}",
    "sudo {c}",
    "sudo -n -u root {c}",
    "timeout 5 {c}",
    "timeout -s KILL 5m {c}",
    "env X=1 {c}",
    "nice -n 5 {c}",
    "nohup {c}",
    "stdbuf -oL {c}",
    "xargs -r {c}",
    "watch -n 5 {q}",
    "bash -c {q}",
    "sh -ec {q}",
    "sudo timeout 5 ssh n1 {q}",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Any command under `ssh HOST`, `sudo`, `timeout 5`… is judged as the
    /// bare command: a write stays a write (and `check` still flags it), an
    /// unknown stays unknown.
    #[test]
    fn a_wrapped_command_is_judged_as_the_bare_one(cmd in command(), wrap in prop::sample::select(SAME)) {
        let wrapped = wrap.replace("{c}", &cmd).replace("{q}", &quote(&cmd));
        prop_assert_eq!(kind(&wrapped), kind(&cmd), "{} vs {}", wrapped, cmd);
    }

    /// `ssh HOST WORD…`: ssh joins the words with spaces and the remote
    /// shell splits them again, which may change them (`'select 1'` becomes
    /// two words): the call is judged as that remote command, exactly.
    #[test]
    fn ssh_words_split_again_are_judged_as_the_remote_command(cmd in command()) {
        let words: Vec<String> = shell_words(&cmd);
        let wrapped = format!("ssh n1 {}", words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" "));
        let remote = words.join(" ");
        prop_assert_eq!(kind(&wrapped), kind(&remote), "{} vs {}", wrapped, remote);
    }
}

fn shell_words(cmd: &str) -> Vec<String> {
    crate::check::shell::commands(cmd).into_iter().flat_map(|c| c.words).collect()
}

#[test]
fn rollout_status_ends_with_the_rollout_watching_or_not() {
    for cmd in ["kubectl rollout status deploy/web -n ns --watch", "kubectl -n ns rollout status deploy/web -w"] {
        assert!(codes(cmd).is_empty(), "{cmd}: {:?}", codes(cmd));
    }
    assert_eq!(codes("kubectl get pods -n ns --watch"), ["never-ending"]);
    assert_eq!(codes("kubectl -n ns get pods -w"), ["never-ending"]);
}
