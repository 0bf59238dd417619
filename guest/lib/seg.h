/* Segment selectors of the guests' own GDTs (start32.S, start64.S). */
#ifndef GUEST_SEG_H
#define GUEST_SEG_H

#ifdef __x86_64__
#define SEL_CODE64      0x08
#define SEL_DATA        0x10
#define SEL_USER_CODE32 0x18
#define SEL_USER_DATA   0x20
#define SEL_USER_CODE64 0x28
#define SEL_NOT_PRESENT 0x30
#define SEL_CODE32      0x38
#define SEL_TSS         0x40
#define GDT_LIMIT       0x4f
#else
#define SEL_CODE32      0x08
#define SEL_DATA        0x10
#define SEL_CODE16      0x18
#define SEL_DATA16      0x20
#define SEL_NOT_PRESENT 0x28
#define SEL_EXEC_ONLY   0x30
#define SEL_DATA_1M     0x38
#define GDT_LIMIT       0x3f
#endif

#endif
