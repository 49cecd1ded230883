# The least a proxy needs: read the current (or a pinned) version of its own secrets.
# `osenv check` also reads their metadata (never the values).
path "secret/data/litellm/*" {
  capabilities = ["read"]
}
path "secret/metadata/litellm/*" {
  capabilities = ["read"]
}
