# client/ldconfig.cmake: run by `cmake --install` once liblogbus is in place.
#
# logbusctl and the other installed programs find liblogbus through their
# RPATH wherever the prefix is.  Any other program finds it only through the
# dynamic loader: in a directory the loader knows from its cache
# (/usr/local/lib, the ld.so.conf directories) that means after ldconfig.
# So when the library went into such a directory: root installing for real
# runs ldconfig; a staged install (DESTDIR) or a user is told to run it.  In
# any other directory (a private prefix) there is nothing to do.
#
# Input: LOGBUS_INSTALL_LIBDIR, the library directory, relative to the
# prefix or absolute.

if(IS_ABSOLUTE "${LOGBUS_INSTALL_LIBDIR}")
  set(logbus_libdir "${LOGBUS_INSTALL_LIBDIR}")
else()
  set(logbus_libdir "${CMAKE_INSTALL_PREFIX}/${LOGBUS_INSTALL_LIBDIR}")
endif()
find_program(logbus_ldconfig ldconfig PATHS /sbin /usr/sbin)
if(NOT logbus_ldconfig)
  return()
endif()

# The directories ldconfig puts in the cache: one "DIR: (from FILE:LINE)"
# line each (-N -X: only list, change nothing).  Compared by real path, as
# /lib may be a link to /usr/lib.
execute_process(COMMAND ${logbus_ldconfig} -N -X -v
                OUTPUT_VARIABLE logbus_listing ERROR_QUIET)
string(REGEX MATCHALL "(^|\n)/[^:\n]*:" logbus_dirs "${logbus_listing}")
get_filename_component(logbus_real "${logbus_libdir}" REALPATH)
set(logbus_cached FALSE)
foreach(d IN LISTS logbus_dirs)
  string(REGEX REPLACE "^\n?(.*):$" "\\1" d "${d}")
  get_filename_component(d "${d}" REALPATH)
  if(d STREQUAL logbus_real)
    set(logbus_cached TRUE)
  endif()
endforeach()
if(NOT logbus_cached)
  return()
endif()

execute_process(COMMAND id -u OUTPUT_VARIABLE logbus_uid
                OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if("$ENV{DESTDIR}" STREQUAL "" AND logbus_uid STREQUAL "0")
  execute_process(COMMAND ${logbus_ldconfig} RESULT_VARIABLE logbus_rv)
  if(logbus_rv EQUAL 0)
    message(STATUS "Ran ldconfig: ${logbus_libdir} is in the loader's cache")
  else()
    message(WARNING "ldconfig failed (${logbus_rv}): until it runs, programs "
                    "may not find liblogbus in ${logbus_libdir}")
  endif()
else()
  message(STATUS "${logbus_libdir} is in the dynamic loader's cache: run "
                 "ldconfig as root once the files are in place, so that "
                 "programs find liblogbus there")
endif()
