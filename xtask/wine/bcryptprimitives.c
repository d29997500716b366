/*
 * Test-harness stand-in for Windows 10's bcryptprimitives.dll, which Debian's Wine 8 lacks.
 *
 * Rust's standard library (1.78 and later) takes its randomness from `ProcessPrng` in
 * bcryptprimitives.dll, present on every Windows 10 / Server 2016 and later. Wine 8 has no such
 * DLL, so no Rust program starts under it. This file gives Wine one export, `ProcessPrng`,
 * backed by `RtlGenRandom` (advapi32's SystemFunction036), which Wine implements over the host's
 * random source. It is built and installed into the Wine prefix by xtask/platform-tests.sh only;
 * it is never shipped (the archives run against the real DLL on Windows).
 */
#include <windows.h>
#include <ntsecapi.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!RtlGenRandom(data, n))
            return FALSE;
        data += n;
        len -= n;
    }
    return TRUE;
}
