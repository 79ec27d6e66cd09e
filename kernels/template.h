/* template.h -- naming for the per-type kernel templates (<op>_impl.h).
 *
 * A kernel whose float32 and float64 versions differ only in the element
 * type is written once, in <op>_impl.h, and included by <op>.c once per
 * compute type:
 *
 *   #define T float
 *   #define SFX f32
 *   #include "max_unpool_impl.h"      compute_forward_max_unpool_f32, ...
 *
 * Inside, TFN(name) is name_f32 (name_f64); the _impl.h #undefs T and SFX
 * at its end, so the next type starts clean. Unlike a kernel written as a
 * macro body, the code is ordinary C on ordinary lines: compiler errors,
 * debuggers, profilers and sanitizers point at the line in the _impl.h,
 * and no helper can reach into its caller's locals. */
#ifndef UP_TEMPLATE_H
#define UP_TEMPLATE_H

#define UP_TCAT_(a, b) a##_##b
#define UP_TCAT(a, b) UP_TCAT_(a, b)
#define TFN(name) UP_TCAT(name, SFX)

#endif
