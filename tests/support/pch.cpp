// The translation unit that builds the tests' precompiled header
// (tests/CMakeLists.txt, WEFT_TEST_PCH); it has nothing of its own.
