#!/bin/sh
# Vault (or OpenBao) side of the recipes: the Kubernetes auth method, the read policy, and one
# role per service account. Run once with an admin token (VAULT_ADDR, VAULT_TOKEN set).
#
# Vault checks each pod's token with the cluster's TokenReview API. Running inside the
# cluster, Vault uses its own service account for that (bind it to the `system:auth-delegator`
# ClusterRole). Outside the cluster, set KUBERNETES_HOST (the API server), KUBERNETES_CA_CERT
# (a file with its CA) and TOKEN_REVIEWER_JWT (a token of a service account bound to
# `system:auth-delegator`).
set -eu
KUBERNETES_HOST="${KUBERNETES_HOST:-https://kubernetes.default.svc}"

vault auth enable kubernetes 2>/dev/null || true
if [ -n "${KUBERNETES_CA_CERT:-}" ]; then
  vault write auth/kubernetes/config kubernetes_host="$KUBERNETES_HOST" \
    kubernetes_ca_cert=@"$KUBERNETES_CA_CERT" token_reviewer_jwt="$TOKEN_REVIEWER_JWT" \
    disable_local_ca_jwt=true
else
  vault write auth/kubernetes/config kubernetes_host="$KUBERNETES_HOST"
fi

vault policy write litellm-read "$(dirname "$0")/litellm-read.hcl"

# The proxy (recipes 1 and 2). `audience` matches the projected token's (`audience: vault`),
# so a token minted for anything else is refused. Short TTLs: osenv revokes its token at the
# end of each run anyway.
vault write auth/kubernetes/role/litellm \
  bound_service_account_names=litellm \
  bound_service_account_namespaces=litellm \
  audience=vault \
  token_policies=litellm-read \
  token_ttl=10m token_max_ttl=30m

# The Secret-writing Job (recipe 3).
vault write auth/kubernetes/role/litellm-secret-writer \
  bound_service_account_names=litellm-secret-writer \
  bound_service_account_namespaces=litellm \
  audience=vault \
  token_policies=litellm-read \
  token_ttl=5m token_max_ttl=10m

# The values, one secret per name under secret/litellm/ (field `key`):
#   vault kv put secret/litellm/OPENAI_API_KEY key=sk-...
