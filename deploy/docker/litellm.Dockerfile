# The official LiteLLM image with osenv in front of its entrypoint: the proxy starts with the
# secrets in its environment, resolved from the secret manager at each start, never on disk.
#
#   docker build -f deploy/docker/litellm.Dockerfile -t registry.example.com/litellm-osenv:1.110.2 .
#
# The config the proxy reads must not name a key_management_system (LiteLLM would set that
# manager up itself); tell osenv which one to read with OSENV_KEY_MANAGEMENT_SYSTEM instead,
# e.g. `docker run -e OSENV_KEY_MANAGEMENT_SYSTEM=hashicorp_vault -e HCP_VAULT_ADDR=… …`.
# Pin both images by digest in production.
ARG OSENV_IMAGE=registry.example.com/osenv:0.1.0
ARG LITELLM_IMAGE=ghcr.io/berriai/litellm:main-v1.110.2
FROM ${OSENV_IMAGE} AS osenv

FROM ${LITELLM_IMAGE}
COPY --from=osenv /usr/local/bin/osenv /usr/local/bin/osenv
# LiteLLM's own entrypoint and arguments, started by osenv (execvp: same PID, signals reach it).
ENTRYPOINT ["osenv", "exec", "/app/config.yaml", "--", "docker/prod_entrypoint.sh"]
CMD ["--config", "/app/config.yaml", "--port", "4000"]
