import { properties } from './props/headers.ts';
import { testSlice } from './property.ts';

testSlice(properties);
