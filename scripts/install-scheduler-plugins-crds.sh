#!/usr/bin/env bash
# Puts the PodGroup CustomResourceDefinition of the coscheduling plugin (kubernetes-sigs/scheduler-plugins,
# scheduling.x-k8s.io/v1alpha1), of one pinned release, where packages/operator's gang-scheduling integration test
# installs it into its kube-apiserver, so the operator's PodGroups are checked against the real schema. From the
# module on the Go module proxy (manifests/coscheduling/crd.yaml), cached like the other test servers' files.
# v0.34.1-devel is the release Kueue v0.17.0 builds against (its go.mod); the proxy serves pinned versions of this
# module but not its version list. Prints the directory of the CRD YAML on stdout.
#
#   RINGTRAIN_CACHE  cache root (default ~/.cache/ringtrain); it lands in $RINGTRAIN_CACHE/scheduler-plugins-crds/<version>
set -euo pipefail

SCHEDULER_PLUGINS_MODULE="sigs.k8s.io/scheduler-plugins"
SCHEDULER_PLUGINS_VERSION="v0.34.1-devel"
# shellcheck source=lib/pinned-module-files.sh
source "$(dirname "$0")/lib/pinned-module-files.sh"
install_pinned_module_files install-scheduler-plugins-crds.sh scheduler-plugins-crds "$SCHEDULER_PLUGINS_MODULE" \
  "$SCHEDULER_PLUGINS_VERSION" manifests/coscheduling/crd.yaml
