# One library per top-level folder, built from every .cpp in it and in its
# sub-folders (resolver/walk/, resolver/front/ ...), so that adding a file
# needs no edit of a shared build file.
function(sextant_library name)
  cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
  file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  # A folder's main.cpp is its program, not part of its library.
  list(FILTER sources EXCLUDE REGEX "/main\\.cpp$")
  if(sources)
    add_library(${name} STATIC ${sources})
    target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
    target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  else()
    add_library(${name} INTERFACE)
    target_include_directories(${name} INTERFACE ${PROJECT_SOURCE_DIR})
    target_link_libraries(${name} INTERFACE ${ARG_DEPS})
  endif()
endfunction()

# One Catch2 executable per folder under tests/ (test_wire, test_cache, ...),
# from the .cpp files in it and its sub-folders (tests/resolver/walk/ ...),
# its cases registered with ctest one by one.
function(sextant_test_folder folder)
  cmake_parse_arguments(ARG "" "" "DEPS;LABELS" ${ARGN})
  file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${folder}/*.cpp)
  if(NOT sources)
    return()
  endif()
  set(target test_${folder})
  add_executable(${target} ${sources})
  target_link_libraries(${target} PRIVATE ${ARG_DEPS} Catch2::Catch2WithMain)
  target_compile_definitions(${target} PRIVATE
    SEXTANT_SOURCE_DIR="${PROJECT_SOURCE_DIR}" SEXTANT_BINARY_DIR="${PROJECT_BINARY_DIR}")
  catch_discover_tests(${target} TEST_PREFIX "${folder}: " PROPERTIES LABELS "unit;${folder}")
endfunction()
