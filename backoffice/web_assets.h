#pragma once

#include <cstddef>

namespace stopline::backoffice {

/* A file of backoffice/web/, compiled in by embed_assets.cmake. */
struct WebAsset
{
    const char *name;
    const unsigned char *data;
    size_t size;
};

extern const WebAsset kWebAssets[];
extern const size_t kWebAssetCount;

} /* namespace stopline::backoffice */
