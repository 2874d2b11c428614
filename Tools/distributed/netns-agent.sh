#!/usr/bin/env bash
# mpirun's remote launcher (plm_rsh_agent) for netns-two-hosts.sh, in place of ssh: mpirun calls
# `netns-agent.sh <host> <command…>` to start its daemon on <host>; the command runs in that
# host's network namespace under its own hostname. Namespace names come from the environment.
host="$1"; shift
case "$host" in
  10.231.0.1) ns="$GLM_NETNS_A"; name=glm-host-a ;;
  10.231.0.2) ns="$GLM_NETNS_B"; name=glm-host-b ;;
  *) echo "netns-agent: unknown host $host" >&2; exit 1 ;;
esac
exec ip netns exec "$ns" unshare --uts sh -c "hostname $name && $*"
