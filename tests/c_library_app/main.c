/* An application that links the generated library of a model named "m" beside the C math library (-lm),
 * built by tests/test_c_library.py through the library's Makefile and through CMake (CMakeLists.txt). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "model.h"

int main(int argc, char **argv)
{
    static uint8_t in[M_INPUT_SIZE];
    int32_t acc[M_NUM_CLASSES];
    volatile double x = (double)argc; /* a run-time value: cos() is libm's, not folded by the compiler */
    int cls;
    (void)argv;
    memset(in, 0, sizeof in);
    cls = m_infer(in, acc, NULL);
    printf("class %d acc %ld cos %.3f\n", cls, (long)acc[cls], cos(x));
    return 0;
}
