#!/bin/sh
# One-shot after the server is up: waits for a real health answer, creates the namespace, registers the search attributes.
set -eu

NS="${TEMPORAL_NAMESPACE:-default}"
ADDR="${TEMPORAL_ADDRESS:?TEMPORAL_ADDRESS is required}"

# An open port is not a working frontend: wait for a client call to succeed.
i=0
until temporal operator cluster health --address "$ADDR" >/dev/null 2>&1; do
  i=$((i + 1))
  if [ "$i" -ge 60 ]; then
    echo "Temporal at $ADDR did not report healthy within 120 s" >&2
    temporal operator cluster health --address "$ADDR" >&2 || true
    exit 1
  fi
  sleep 2
done
echo "Temporal at $ADDR is healthy"

if temporal operator namespace describe --address "$ADDR" --namespace "$NS" >/dev/null 2>&1; then
  echo "namespace $NS exists"
else
  temporal operator namespace create --address "$ADDR" --namespace "$NS" --retention "${NAMESPACE_RETENTION:-7d}"
fi

# SEARCH_ATTRIBUTES is "Name=Type Name=Type ..." and must match workflows/search-attributes.ts (a unit test checks it).
# A namespace just created takes a few seconds to reach the servers' namespace caches: retry until it has.
for pair in $SEARCH_ATTRIBUTES; do
  name="${pair%%=*}"
  type="${pair#*=}"
  i=0
  until out=$(temporal operator search-attribute create --address "$ADDR" --namespace "$NS" --name "$name" --type "$type" 2>&1); do
    if temporal operator search-attribute list --address "$ADDR" --namespace "$NS" 2>/dev/null | grep -qw "$name"; then
      out="exists"
      break
    fi
    i=$((i + 1))
    if [ "$i" -ge 60 ]; then
      echo "could not register search attribute $name ($type): $out" >&2
      exit 1
    fi
    sleep 2
  done
  echo "search attribute $name ($type): ${out:-registered}"
done

# The frontend caches search attributes: wait until a visibility query accepts them, so the first case start cannot fail.
for pair in $SEARCH_ATTRIBUTES; do
  name="${pair%%=*}"
  i=0
  until temporal workflow list --address "$ADDR" --namespace "$NS" --limit 1 --query "$name = 'setup-probe'" >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -ge 60 ]; then
      echo "search attribute $name is still unknown to visibility queries after 120 s" >&2
      exit 1
    fi
    sleep 2
  done
done
echo "Temporal namespace $NS is ready"
