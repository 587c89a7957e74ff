#pragma once

#include <array>
#include <vector>

#include <opencv2/core.hpp>

#include "pipeline/plate/plate_locator.h"

/* Internals of PlateLocator, exposed for its tests and the evaluation tool's
 * diagnostics and weight fitting. Not part of the pipeline's interface. */
namespace stopline::pipeline::plate_detail {

/* What the row score is made of; each is scaled to roughly 0..1. */
enum RowFeature {
    kCount,        /* components in the row, min(n, 8) / 8 */
    kExcess,       /* components beyond 8, / 8: long rows are sign text */
    kAlignDev,     /* mean deviation of tops and bottoms from the median, / height */
    kHeightSpread, /* deviation of component heights, / height */
    kGapSpread,    /* deviation of the gaps between components, / height */
    kGapMean,      /* mean gap, / height */
    kNarrow,       /* fraction of components narrower than 0.3 height (bars, posts) */
    kSolid,        /* fraction of components filling > 80% of their box (bars, blobs) */
    kAspect,       /* mean component width / height */
    kFill,         /* mean fraction of the box a component fills */
    kAbove,        /* mask density in a band just above the row: plates have a margin */
    kBelow,        /* same just below */
    kStability,    /* fraction of the threshold passes that found the same row */
    kDarkOnLight,  /* 1 for dark characters on a light plate */
    kContrast,     /* the threshold pass that found it, 0 (weak) .. 1 (strong) */
    kOutside,      /* fraction of the predicted plate box outside the image */
    kFramed,       /* 1 when found inside a light plate-shaped region */
    kFeatureCount
};

/* Names of the features, in RowFeature order, for diagnostics. */
extern const std::array<const char *, kFeatureCount> kRowFeatureNames;

/* A row of character-like components, in work-image pixels. */
struct CharRow
{
    cv::Rect chars;        /* union of the components */
    double charHeight = 0; /* median component height */
    int count = 0;         /* components in the row */
    bool darkOnLight = true;
    int pass = 0;        /* which threshold pass found it */
    bool framed = false; /* found inside a light plate-shaped region, which is the plate */
    std::array<double, kFeatureCount> features{};
    double score = 0;
    cv::Rect plate; /* the whole plate as predicted from the row */
};

/* The grey, possibly downscaled image the locator works on; scale maps input pixels to
 * work pixels (work = input * scale). */
cv::Mat workImage(const cv::Mat &image, int workSize, double *scale);

/* The row's plate box in the input image's pixels (work / scale), unclipped: snapped to
 * the plate's visible edges when options.refine allows and the work image shows all four
 * (a light plate on a darker car, a frame), else the box predicted from the row. What
 * locate() reports, so the evaluation tool's feature dump matches it. */
cv::Rect imageBox(const cv::Mat &gray, const CharRow &row, const PlateLocator::Options &options,
                  double scale);

/* Every scored row of a grey work image, best first, before suppression. */
std::vector<CharRow> proposeRows(const cv::Mat &gray, const PlateLocator::Options &options);

} // namespace stopline::pipeline::plate_detail
