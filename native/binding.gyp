{
  "targets": [
    {
      "target_name": "sluice_native",
      "sources": ["sluice_native.cc", "record_scan.cc", "crc32c.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-O2"]
    }
  ]
}
