"""Write digits.h: a few test digits from dnnc's bundled MNIST subset, embedded as C arrays."""

import sys

from dnnc.data.bundled import mnist10k

N = 8
x, y = mnist10k("test")
lines = ["/* Eight MNIST test digits (dnnc bundled subset), 1x28x28 uint8 each. Written by make_digits.py. */",
         "#include <stdint.h>", f"#define NUM_DIGITS {N}",
         f"static const uint8_t digit_labels[NUM_DIGITS] = {{{', '.join(str(int(v)) for v in y[:N])}}};",
         "static const uint8_t digits[NUM_DIGITS][784] = {"]
for img in x[:N]:
    flat = img.reshape(-1).tolist()
    rows = [", ".join(str(v) for v in flat[i:i + 28]) for i in range(0, 784, 28)]
    lines.append("    {\n        " + ",\n        ".join(rows) + "\n    },")
lines.append("};")
with open(sys.argv[1] if len(sys.argv) > 1 else "digits.h", "w") as fh:
    fh.write("\n".join(lines) + "\n")
