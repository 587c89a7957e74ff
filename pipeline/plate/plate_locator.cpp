#include "pipeline/plate/plate_locator.h"

namespace stopline::pipeline {

PlateLocator::PlateLocator() : PlateLocator(Options{})
{}

PlateLocator::PlateLocator(Options options) : options_(options)
{}

std::vector<PlateBox> PlateLocator::locate(const cv::Mat &bgr) const
{
    return {};
}

} // namespace stopline::pipeline
