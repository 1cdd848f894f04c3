#!/bin/sh
# Serve the demo property over HTTPS on 127.0.0.1:8443.
#   deploy/run-demo.sh BINARY DIR      (make run: build/fieldsyncd var/demo)
# First run: creates the store in DIR (`BINARY init`), loads the demo data
# (`BINARY demo`) and makes a self-signed certificate for 127.0.0.1 and
# localhost in DIR/tls.  Later runs reuse all of it.
set -eu
bin=${1:?usage: run-demo.sh BINARY DIR}
dir=${2:?usage: run-demo.sh BINARY DIR}
port=${FIELDSYNC_DEMO_PORT:-8443}

case $bin in */*) ;; *) bin=./$bin ;; esac
[ -x "$bin" ] || { echo "run-demo: $bin is not an executable (run make first)" >&2; exit 1; }

# The key the demo's secure NFC tags are sealed with (schema/EVIDENCE.md).
tagkey=$dir/tag.key
if [ ! -f "$dir/.demo-ready" ]; then
	mkdir -p "$dir"
	if [ ! -f "$tagkey" ]; then
		(umask 077; openssl rand -hex 32 > "$tagkey")
	fi
	if [ ! -f "$dir/admin.token" ]; then
		echo "run-demo: creating the store in $dir"
		"$bin" init --data "$dir"
	fi
	echo "run-demo: loading the demo property"
	"$bin" demo --data "$dir" --tag-key-file "$tagkey"
	touch "$dir/.demo-ready"
fi

tls=$dir/tls
if [ ! -f "$tls/cert.pem" ] || [ ! -f "$tls/key.pem" ]; then
	echo "run-demo: making a self-signed certificate in $tls"
	mkdir -p "$tls"
	chmod 0700 "$tls"
	old_umask=$(umask)
	umask 077
	openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 825 \
		-subj "/CN=127.0.0.1" \
		-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
		-addext "basicConstraints=critical,CA:FALSE" \
		-addext "extendedKeyUsage=serverAuth" \
		-keyout "$tls/key.pem" -out "$tls/cert.pem" 2>/dev/null
	umask "$old_umask"
	chmod 0600 "$tls/key.pem"
	chmod 0644 "$tls/cert.pem"
fi

cat <<MSG

fieldsync demo
  data:         $dir
  admin token:  $dir/admin.token
  try:          curl --cacert $tls/cert.pem https://127.0.0.1:$port/healthz
  stop:         Ctrl-C

MSG
[ -f "$tagkey" ] && set -- --tag-key-file "$tagkey"
exec "$bin" serve --data "$dir" --listen "127.0.0.1:$port" \
	--cert "$tls/cert.pem" --key "$tls/key.pem" "$@"
