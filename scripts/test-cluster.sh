#!/usr/bin/env bash
# A cluster of three Docker engines in containers on this machine, for the remote-engine and
# swarm tests (tests/remote.rs) and benchmarks (bench/swarm-vs-stack.sh):
#   scripts/test-cluster.sh up DIR    build the node image, make the certificates and keys in
#                                     DIR, start the three nodes and wait until each answers
#   scripts/test-cluster.sh swarm     make them a swarm (the first one its manager)
#   scripts/test-cluster.sh down      remove the nodes, their data and their network
# Each node (tests/fixtures/node: Debian's docker.io and openssh-server) answers at its address
# on 2376 with TLS; the first one also over SSH (root, with the key DIR/client/id_ed25519).
# --privileged is refused on this machine: the capabilities are given one by one (all that
# Docker 20.10 knows but SYS_RESOURCE, which is outside this machine's bounding set).
# DIR/client holds ca.pem, cert.pem and key.pem for DOCKER_CERT_PATH; DIR/wrong the same client
# certificate with another CA. A registry (tests/fixtures/registry, Debian's docker-registry)
# answers at 10.213.77.10:5000 with TLS; this machine's engine and the nodes trust its CA
# (/etc/docker/certs.d/10.213.77.10:5000/ca.crt, removed by down).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NETWORK=deck-test-nodes
SUBNET=10.213.77.0/24
IMAGE=sirius-deck-test/node:latest
REGISTRY_IMAGE=sirius-deck-test/registry:latest
REGISTRY=deck-test-registry
REGISTRY_ADDR=10.213.77.10
REGISTRY_CERTS=/etc/docker/certs.d/$REGISTRY_ADDR:5000
NODES=(deck-test-node-1 deck-test-node-2 deck-test-node-3)
ADDRS=(10.213.77.11 10.213.77.12 10.213.77.13)
CAPS=(CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP LINUX_IMMUTABLE
    NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO
    SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE
    AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ)

down() {
    for n in "${NODES[@]}"; do
        docker rm -f -v "$n" >/dev/null 2>&1 || true
        docker volume rm "$n-data" >/dev/null 2>&1 || true
    done
    docker rm -f -v "$REGISTRY" >/dev/null 2>&1 || true
    rm -rf "$REGISTRY_CERTS"
    docker network rm "$NETWORK" >/dev/null 2>&1 || true
}

# A CA, one server certificate for the three addresses, a client certificate; another CA.
certificates() {
    local dir="$1" ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
    mkdir -p "$dir/node" "$dir/client" "$dir/wrong"
    cd "$dir"
    openssl req -x509 "${ec[@]}" -days 2 -subj /CN=deck-test-ca -keyout ca-key.pem -out node/ca.pem 2>/dev/null
    openssl req -x509 "${ec[@]}" -days 2 -subj /CN=another-ca -keyout wrong/ca-key.pem -out wrong/ca.pem 2>/dev/null
    sign() { # KEY CERT CN EXTENSIONS
        openssl req "${ec[@]}" -subj "$3" -keyout "$1" -out req.csr 2>/dev/null
        printf '%b' "$4" >ext.cnf
        openssl x509 -req -in req.csr -CA node/ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 \
            -extfile ext.cnf -out "$2" 2>/dev/null
    }
    sign node/server-key.pem node/server-cert.pem /CN=deck-node \
        "subjectAltName=IP:${ADDRS[0]},IP:${ADDRS[1]},IP:${ADDRS[2]},IP:$REGISTRY_ADDR\nextendedKeyUsage=serverAuth\n"
    sign client/key.pem client/cert.pem /CN=deck-client "extendedKeyUsage=clientAuth\n"
    cp node/ca.pem client/ca.pem
    cp client/cert.pem client/key.pem wrong/
    cd - >/dev/null
}

# The manager's SSH host key (a new one each time: it replaces the one known from before in
# ~/.ssh/known_hosts, as a user who checked it would) and the client's key, authorised on the
# nodes.
ssh_keys() {
    local dir="$1"
    ssh-keygen -q -t ed25519 -N '' -f "$dir/node/ssh_host_ed25519_key"
    ssh-keygen -q -t ed25519 -N '' -f "$dir/client/id_ed25519"
    cp "$dir/client/id_ed25519.pub" "$dir/node/authorized_keys"
    mkdir -p ~/.ssh
    ssh-keygen -R "${ADDRS[0]}" >/dev/null 2>&1 || true
    echo "${ADDRS[0]} $(cut -d' ' -f1,2 "$dir/node/ssh_host_ed25519_key.pub")" >>~/.ssh/known_hosts
}

up() {
    local dir
    dir="$(realpath -m "${1:?usage: $0 up DIR}")"
    down
    rm -rf "$dir"
    mkdir -p "$dir"
    certificates "$dir"
    ssh_keys "$dir"
    DOCKER_BUILDKIT=0 docker build -q -t "$IMAGE" "$ROOT/tests/fixtures/node" >/dev/null
    DOCKER_BUILDKIT=0 docker build -q -t "$REGISTRY_IMAGE" "$ROOT/tests/fixtures/registry" >/dev/null
    docker network create --subnet "$SUBNET" "$NETWORK" >/dev/null
    mkdir -p "$REGISTRY_CERTS"
    cp "$dir/node/ca.pem" "$REGISTRY_CERTS/ca.crt"
    docker run -d --name "$REGISTRY" --network "$NETWORK" --ip "$REGISTRY_ADDR" \
        -v "$dir/node:/certs:ro" "$REGISTRY_IMAGE" >/dev/null
    local caps=() i
    for c in "${CAPS[@]}"; do caps+=(--cap-add "$c"); done
    for i in 0 1 2; do
        docker run -d --name "${NODES[$i]}" --hostname "${NODES[$i]}" --network "$NETWORK" --ip "${ADDRS[$i]}" \
            "${caps[@]}" --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
            --security-opt systempaths=unconfined --tmpfs /run -v /sys/fs/cgroup:/sys/fs/cgroup:rw --cgroupns host \
            -v "${NODES[$i]}-data:/var/lib/docker" -v "$dir/node:/node:ro" \
            --mount "type=bind,source=$REGISTRY_CERTS,target=$REGISTRY_CERTS,readonly" "$IMAGE" >/dev/null
    done
    for i in 0 1 2; do
        local tries=0
        until DOCKER_HOST="tcp://${ADDRS[$i]}:2376" DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH="$dir/client" \
            docker version >/dev/null 2>&1; do
            tries=$((tries + 1))
            if [ "$tries" -gt 300 ]; then
                echo "${NODES[$i]} did not start: docker logs ${NODES[$i]}" >&2
                exit 1
            fi
            sleep 0.2
        done
    done
}

swarm() {
    docker exec "${NODES[0]}" docker swarm init --advertise-addr "${ADDRS[0]}" >/dev/null
    local token
    token="$(docker exec "${NODES[0]}" docker swarm join-token -q worker)"
    for n in "${NODES[@]:1}"; do
        docker exec "$n" docker swarm join --token "$token" "${ADDRS[0]}:2377" >/dev/null
    done
}

case "${1:-}" in
    up) up "${2:-}" ;;
    swarm) swarm ;;
    down) down ;;
    *) echo "usage: $0 up DIR | swarm | down" >&2; exit 2 ;;
esac
