# Sourced by .ci/run and scripts/test (as root): installs the Debian packages the tests use as real
# peers, never letting a package start its own system service. The tests start their own
# throw-away slapd, FreeRADIUS, nginx, Caddy and HAProxy on loopback high ports; a system freeradius
# would hold 1812/1813 on every interface, a system slapd 389, nginx and caddy port 80.

apt_install_peers() {
  local policy=/usr/sbin/policy-rc.d own_policy='' rc=0 fresh_freeradius='' fresh_nginx='' fresh_caddy='' fresh_haproxy=''
  [ -x /usr/sbin/freeradius ] || fresh_freeradius=1
  [ -x /usr/sbin/nginx ] || fresh_nginx=1
  [ -x /usr/bin/caddy ] || fresh_caddy=1
  [ -x /usr/sbin/haproxy ] || fresh_haproxy=1
  printf 'slapd slapd/no_configuration boolean true\n' | debconf-set-selections 2>/dev/null || true
  # invoke-rc.d and deb-systemd-invoke ask policy-rc.d before starting a service: 101 = refused.
  # Docker images already ship one; elsewhere put one in place for the length of the install.
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# Installed for the length of a test-peer install: packages must not start services.\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT INT TERM
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null || rc=$?
  if [ -n "$own_policy" ]; then
    rm -f "$policy"
    trap - EXIT INT TERM
  fi
  [ "$rc" = 0 ] || return "$rc"
  # A freshly installed freeradius, nginx, caddy or haproxy is enabled for the next boot (and running, if a start
  # got through some other way): stop and disable it. An instance someone set up earlier is left alone.
  [ -n "$fresh_freeradius" ] && [ -x /usr/sbin/freeradius ] && disable_service freeradius
  [ -n "$fresh_nginx" ] && [ -x /usr/sbin/nginx ] && disable_service nginx
  [ -n "$fresh_caddy" ] && [ -x /usr/bin/caddy ] && disable_service caddy
  [ -n "$fresh_haproxy" ] && [ -x /usr/sbin/haproxy ] && disable_service haproxy
  return 0
}

disable_service() {
  if [ -d /run/systemd/system ]; then
    systemctl disable --now "$1.service" >/dev/null 2>&1 || true
  else
    service "$1" stop >/dev/null 2>&1 || true
    update-rc.d "$1" disable >/dev/null 2>&1 || true
    # Without a running systemd (containers) the unit's boot links are still there; caddy has no
    # init script at all. systemctl disable works offline: it only removes the links.
    if command -v systemctl >/dev/null 2>&1; then systemctl disable "$1.service" >/dev/null 2>&1 || true; fi
  fi
  return 0
}
