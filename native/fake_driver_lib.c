/* A tiny real ELF shared object standing in for a driver library of the fake
 * driver tree (libcuda.so.1, libnvidia-ml.so.1).  native/build.sh builds it
 * once per name with -DFAKE_LIB_NAME and the matching -soname. */
#ifndef FAKE_LIB_NAME
#define FAKE_LIB_NAME "libfake"
#endif
#ifndef FAKE_DRIVER_VERSION
#define FAKE_DRIVER_VERSION "550.54.14"
#endif
__attribute__((visibility("default"))) const char *fake_driver_library(void)
{
        return FAKE_LIB_NAME " " FAKE_DRIVER_VERSION;
}
