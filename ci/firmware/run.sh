#!/usr/bin/env bash
# fiatline-core on microcontrollers: builds the core for thumbv6m, thumbv7m,
# thumbv7em and riscv32imc (no std, no alloc), runs the firmware under QEMU
# on a Cortex-M4F (mps2-an386) and a Cortex-M3 (mps2-an385), and compares
# every field with `fiatline price --json` on the host, bit for bit.
#
# rustup cannot fetch targets here: Debian's rustc-web, rust-web-src and
# cargo-web build `core` for the target (-Zbuild-std), in a CARGO_HOME and
# target folder of their own so rustup's toolchain is never mixed in.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/target/firmware"
mkdir -p "$out"

need=()
[ -x /usr/bin/rustc ] && /usr/bin/rustc --version | grep -q . || need+=(rustc-web)
[ -d /usr/lib/rustlib/src/rust/library/core ] || need+=(rust-web-src)
[ -x /usr/bin/cargo ] || need+=(cargo-web)
command -v arm-none-eabi-ld >/dev/null || need+=(binutils-arm-none-eabi)
command -v qemu-system-arm >/dev/null || need+=(qemu-system-arm)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
fi

# The host's answer first, with the project's own toolchain.
(cd "$root" && cargo build --release --locked -q -p fiatline-server)
fiatline="$root/target/release/fiatline"
"$fiatline" price --block-file "$root/samples/block-702861.bin" --json > "$out/host.json"
"$fiatline" price --block-file "$root/samples/block-702861.bin" --json --refinement hourly > "$out/host-hourly.json"

# From here on, Debian's toolchain only.
export PATH="/usr/bin:$PATH" RUSTC_BOOTSTRAP=1 CARGO_HOME="$out/cargo-home"
unset RUSTUP_TOOLCHAIN RUSTC RUSTDOC CARGO_BUILD_TARGET
/usr/bin/rustc --version
std=(-Zbuild-std=core -Zbuild-std-features=compiler-builtins-mem)

for target in thumbv6m-none-eabi thumbv7m-none-eabi thumbv7em-none-eabihf riscv32imc-unknown-none-elf; do
  echo "==> the no_std check for $target"
  /usr/bin/cargo build --release --locked --manifest-path "$root/ci/nostd-check/Cargo.toml" \
    --target "$target" "${std[@]}" --target-dir "$out/nostd"
done

run() { # target machine label
  local target=$1 machine=$2 label=$3 elf
  elf="$out/fw/$target/release/fiatline-firmware"
  (cd "$here" && /usr/bin/cargo build --release --locked --target "$target" --target-dir "$out/fw")
  echo "==> $label ($machine, QEMU -icount shift=0)"
  timeout 600 qemu-system-arm -machine "$machine" -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native -icount shift=0 -kernel "$elf" \
    > "$out/$label.txt"
  cat "$out/$label.txt"
  arm-none-eabi-size -A "$elf" | grep -E '^\.(text|rodata|data|bss) ' | tee "$out/$label-size.txt"
  python3 "$here/compare.py" "$out/$label.txt" "$out/host.json" "$out/host-hourly.json"
}

run thumbv7em-none-eabihf mps2-an386 cortex-m4f
run thumbv7m-none-eabi mps2-an385 cortex-m3

echo "==> the same run again gives the same instruction counts"
elf="$out/fw/thumbv7em-none-eabihf/release/fiatline-firmware"
qemu-system-arm -machine mps2-an386 -nographic -monitor none -serial none \
  -semihosting-config enable=on,target=native -icount shift=0 -kernel "$elf" > "$out/again.txt"
diff "$out/cortex-m4f.txt" "$out/again.txt"

echo "==> a difference of one ulp fails the comparison"
if python3 "$here/compare.py" "$out/cortex-m4f.txt" "$out/host.json" "$out/host-hourly.json" \
  --ulp-off price > "$out/ulp.txt" 2>&1; then
  cat "$out/ulp.txt"; echo "the comparison passed a value one ulp off"; exit 1
fi
grep -E '^price |differ' "$out/ulp.txt"

echo "==> the firmware without the core (the baseline of the sizes)"
(cd "$here" && /usr/bin/cargo build --release --locked --features baseline \
  --target thumbv7em-none-eabihf --target-dir "$out/baseline")
arm-none-eabi-size -A "$out/baseline/thumbv7em-none-eabihf/release/fiatline-firmware" \
  | grep -E '^\.(text|rodata|data|bss) '
qemu-system-arm -machine mps2-an386 -nographic -monitor none -serial none \
  -semihosting-config enable=on,target=native -icount shift=0 \
  -kernel "$out/baseline/thumbv7em-none-eabihf/release/fiatline-firmware"
echo "firmware check passed"
