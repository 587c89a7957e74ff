#pragma once

#include <vector>

#include <opencv2/core.hpp>

#include "pipeline/plate/plate_locator.h"

/* Internals of PlateLocator, exposed for its tests and the evaluation tool's
 * diagnostics. Not part of the pipeline's interface. */
namespace stopline::pipeline::plate_detail {

/* A row of character-like components, in work-image pixels. */
struct CharRow
{
    cv::Rect chars;        /* union of the components */
    double charHeight = 0; /* median component height */
    int count = 0;         /* components in the row */
    bool darkOnLight = true;
    double score = 0;
    cv::Rect plate; /* the whole plate as predicted from the row */
};

/* The grey, possibly downscaled image the locator works on; scale maps work pixels
 * back to the input (input = work / scale). */
cv::Mat workImage(const cv::Mat &image, int workWidth, double *scale);

/* Every scored row of a grey work image, best first, before suppression. */
std::vector<CharRow> proposeRows(const cv::Mat &gray, const PlateLocator::Options &options);

} // namespace stopline::pipeline::plate_detail
