#!/usr/bin/env bash
# Check the files in deploy/ with the tools that read them: nginx -t (both configs),
# promtool (rules, their unit test, the scrape config), systemd-analyze verify (with a
# stand-in binary, as /usr/local/bin/tidings is not installed here) and the dashboard's
# JSON. Debian packages: nginx-light, prometheus, systemd, python3.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== nginx: tidings.conf inside a minimal nginx.conf"
mkdir -p "$tmp/lb"
cat >"$tmp/lb/nginx.conf" <<CONF
pid $tmp/lb/nginx.pid;
error_log $tmp/lb/error.log;
events {}
http {
    access_log $tmp/lb/access.log;
    client_body_temp_path $tmp/lb/body;
    proxy_temp_path $tmp/lb/proxy;
    include $PWD/nginx/tidings.conf;
}
CONF
nginx -t -q -p "$tmp/lb" -c "$tmp/lb/nginx.conf"

echo "== nginx: test.conf.template with its placeholders filled"
mkdir -p "$tmp/test"
upstreams='server 127.0.0.1:8081 max_fails=3 fail_timeout=10s;\n        server 127.0.0.1:8082 max_fails=3 fail_timeout=10s;'
sed -e "s|@PREFIX@|$tmp/test|g" -e "s|@LISTEN@|127.0.0.1:18080|" -e "s|@UPSTREAMS@|$upstreams|" \
    nginx/test.conf.template >"$tmp/test/nginx.conf"
if grep -q '@[A-Z]*@' "$tmp/test/nginx.conf"; then
    echo "a placeholder is left in test.conf.template" >&2
    exit 1
fi
nginx -t -q -p "$tmp/test" -c "$tmp/test/nginx.conf"

echo "== promtool"
promtool check rules prometheus/tidings-rules.yml
promtool test rules prometheus/rules-test.yml
promtool check config prometheus/prometheus.yml

echo "== systemd"
if command -v systemd-analyze >/dev/null; then
    sed 's|/usr/local/bin/tidings|/bin/true|' systemd/tidings@.service >"$tmp/tidings@.service"
    systemd-analyze verify "$tmp/tidings@.service"
else
    echo "systemd-analyze is not installed; skipped"
fi

echo "== grafana"
python3 -m json.tool grafana/tidings.json >/dev/null
echo "deploy/ checks passed"
