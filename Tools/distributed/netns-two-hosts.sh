#!/usr/bin/env bash
# Trains across two hosts made on this machine: two network namespaces joined by a veth pair
# (10.231.0.1 and 10.231.0.2), each with its own hostname (a UTS namespace), and
# `mpirun -np 2` across them — rank 0 on glm-host-a, rank 1 on glm-host-b — so MPI's TCP
# transport and mpirun's remote launch (plm_rsh_agent = netns-agent.sh, which stands in for ssh
# with `ip netns exec`) are exercised for real. The file system is shared, as on a cluster
# with a network file system.
#
#   Tools/distributed/netns-two-hosts.sh <glm binary> <glm arguments…>     (as root)
#
# Prints mpirun's output; exits with mpirun's status, or 77 when namespaces cannot be made here
# (not root, no `ip`, no CAP_NET_ADMIN), so callers can skip with that reason.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
glm="$1"; shift

skip() { echo "netns-two-hosts: $*" >&2; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root to make network namespaces"
command -v ip >/dev/null 2>&1 || skip "needs the ip command (iproute2)"
command -v unshare >/dev/null 2>&1 || skip "needs unshare (util-linux)"
command -v mpirun >/dev/null 2>&1 || skip "needs mpirun (openmpi-bin)"

id=$$
export GLM_NETNS_A="glm-a-$id" GLM_NETNS_B="glm-b-$id"
va="gva$id"; vb="gvb$id"
cleanup() { ip netns del "$GLM_NETNS_A" 2>/dev/null; ip netns del "$GLM_NETNS_B" 2>/dev/null; ip link del "$va" 2>/dev/null; true; }
trap cleanup EXIT
ip netns add "$GLM_NETNS_A" 2>/dev/null || skip "ip netns add failed (no CAP_NET_ADMIN?)"
ip netns add "$GLM_NETNS_B" || skip "ip netns add failed"
ip link add "$va" type veth peer name "$vb" || skip "cannot make a veth pair"
ip link set "$va" netns "$GLM_NETNS_A" && ip link set "$vb" netns "$GLM_NETNS_B" || skip "cannot move the veth ends"
ip -n "$GLM_NETNS_A" addr add 10.231.0.1/24 dev "$va"
ip -n "$GLM_NETNS_B" addr add 10.231.0.2/24 dev "$vb"
for ns in "$GLM_NETNS_A" "$GLM_NETNS_B"; do ip -n "$ns" link set lo up; done
ip -n "$GLM_NETNS_A" link set "$va" up
ip -n "$GLM_NETNS_B" link set "$vb" up

# Root may run mpirun only when it says so; one slot per host.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export GLM_NUM_THREADS="${GLM_NUM_THREADS:-1}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
ip netns exec "$GLM_NETNS_A" unshare --uts bash -c 'hostname glm-host-a && exec "$@"' _ \
  mpirun -np 2 --host 10.231.0.1:1,10.231.0.2:1 \
    --mca plm_rsh_agent "$here/netns-agent.sh" \
    --mca btl self,tcp --mca btl_tcp_if_include 10.231.0.0/24 --mca oob_tcp_if_include 10.231.0.0/24 \
    -x GLM_NUM_THREADS -x OMP_NUM_THREADS \
    "$glm" "$@"
