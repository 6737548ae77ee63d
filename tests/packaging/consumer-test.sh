#!/usr/bin/env bash
# Packs OptDsl into a local feed, then builds and runs a separate project that references the packages from that
# feed only (TorchSharp from the registry), declares its own optimizer and takes a step with it and with a catalog
# optimizer. A fresh version number each run keeps the NuGet cache from serving an older build.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
version="0.1.0-ci.$(date +%s)"

dotnet pack "$root/OptDsl.sln" -c Release -o "$work/feed" -p:Version="$version" --nologo -v quiet
cp -r "$root/tests/packaging/Consumer" "$work/Consumer"
cat > "$work/Consumer/nuget.config" <<XML
<configuration>
  <packageSources>
    <clear />
    <add key="local" value="$work/feed" />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
  </packageSources>
  <packageSourceMapping>
    <packageSource key="local"><package pattern="OptDsl" /><package pattern="OptDsl.*" /></packageSource>
    <packageSource key="nuget.org"><package pattern="*" /></packageSource>
  </packageSourceMapping>
</configuration>
XML
cd "$work/Consumer"
dotnet run -p:OptDslVersion="$version" --nologo
