import { properties } from './props/route.ts';
import { testSlice } from './property.ts';

testSlice(properties);
